// run_study: the whole proposal in one command. Does a compressed network generalise better,
// as measured by adversarial robustness?
//   run_study --preset quick                      (the README's main job, minutes on 2 cores)
//   run_study --preset full --out results/full    (the proposal's study on Fashion-MNIST, hours on 2 cores)
//   run_study --preset large --out results/large  (the same at a GPU job's scale)
//   run_study --config my_study.json              (any key of the config, also as a flag)
//
// The study runs the other executables as stages, each a child process writing its own files
// atomically (run_train, run_prune, run_eval, run_cw, run_adv_train, run_outlier):
//   1. model A (a shipped or given checkpoint, or trained here) and its pruning ladder (a shipped
//      run_prune ladder, or pruned here), the depth ladder (ResNet-20/32/44/56/110 trained
//      alike, or given checkpoints: converted torchvision ResNet-50/101/152 for ImageNet) and
//      the memorisation control (A's architecture, or the `architecture` key's, on index-parity
//      labels: odd 1, even 0, nothing to learn but the samples themselves);
//   2. accuracy of every model on the train and test splits;
//   3. minimal-distance attacks (run_cw: CW-L2 always among them, with DDN, FMN, ...) on the
//      first N train and N test samples of every model, per sample the best of them;
//   4. equal adversarial fine-tuning of every ladder model (run_adv_train: the same number of
//      adversarial examples, sample order and seed for each), then the same attacks again;
//   5. the OutlierAttack of A against the chosen rungs (run_outlier);
//   6. sanity checks (Carlini et al. 2019), results.json and the report (experiments/study/).
// Under --out: config.json (the resolved configuration), study.log (every child's output),
// stages/<stage>/ (each stage's files), stages/<stage>.done.json (a finished stage: its command),
// results.json, report.html, report.md. A rerun skips the finished stages and resumes the
// unfinished one (the children's --resume); a stage whose command changed is refused.
#include <nlohmann/json.hpp>

#include <fmt/chrono.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "experiments/common/cli.h"
#include "experiments/common/record.h"
#include "experiments/study/config.h"
#include "experiments/study/report.h"
#include "framework/core/error.h"
#include "framework/io/atomic_file.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "framework/util/progress_bar.h"

namespace fs = std::filesystem;
using Json = nlohmann::json;
using oa::study::StudyConfig;

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

// A shell word: 'text' with every ' written as '\''.
std::string quoted(const std::string& text) {
  std::string q = "'";
  for (const char c : text) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// ---- stages ---------------------------------------------------------------------------------

struct Stage {
  std::string name;                  // also its folder under stages/
  std::vector<std::string> command;  // program (an executable beside run_study) and arguments
  bool resumable = false;            // the child takes --resume to continue its own files
  double weight = 1;                 // its expected share of the time, for the ETA
};

// The executables that split their work over MPI ranks: run under the study's launcher.
bool splits_over_ranks(const std::string& program) {
  static const std::set<std::string> kDistributed = {"run_train", "run_prune", "run_adv_train",
                                                     "run_cw",    "run_blackbox", "run_outlier"};
  return kDistributed.count(program) > 0;
}

class StudyRunner {
 public:
  // `launcher`: shell words put before the command of a stage that splits over MPI ranks.
  StudyRunner(fs::path out, fs::path bin, std::string launcher)
      : out_(std::move(out)), bin_(std::move(bin)), launcher_(std::move(launcher)) {
    fs::create_directories(out_ / "stages");
  }
  fs::path dir(const std::string& stage) const { return out_ / "stages" / stage; }

  // Runs every stage not yet done, in order, printing stage k of n with the study's ETA.
  void run(const std::vector<Stage>& stages) {
    double total = 0, done_weight = 0;
    for (const auto& s : stages) total += s.weight;
    const auto start = std::chrono::steady_clock::now();
    double ran_weight = 0;  // of the stages run now (not skipped), for the ETA
    for (std::size_t k = 0; k < stages.size(); ++k) {
      const Stage& s = stages[k];
      const std::string header = fmt::format("[{}/{}] {}", k + 1, stages.size(), s.name);
      if (finished(s)) {
        done_weight += s.weight;
        std::printf("%s: done earlier\n", header.c_str());
        continue;
      }
      const double elapsed = seconds_since(start);
      const std::string eta =
          ran_weight > 0 ? oa::format_duration(elapsed / ran_weight * (total - done_weight)) : std::string("?");
      const std::string started = fmt::format("{} (study {:.0f}%, ETA {})", header, 100 * done_weight / total, eta);
      const auto stage_start = std::chrono::steady_clock::now();
      execute(s, stage_start, started);
      show(fmt::format("{}: done in {}", header, oa::format_duration(seconds_since(stage_start))), true);
      done_weight += s.weight;
      ran_weight += s.weight;
    }
  }

 private:
  static double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }
  fs::path record(const Stage& s) const { return out_ / "stages" / (s.name + ".done.json"); }

  // Done: its record exists and holds the same command (other options: refused).
  bool finished(const Stage& s) const {
    if (!fs::exists(record(s))) return false;
    std::ifstream in(record(s));
    const Json earlier = Json::parse(in, nullptr, false);
    OA_CHECK(earlier.is_object() && earlier.value("command", Json()) == Json(s.command),
             "{}: this study's stage {} ran as {}, this run asks for {}; use the same config or another --out",
             record(s).string(), s.name, earlier.value("command", Json()).dump(), Json(s.command).dump());
    return true;
  }

  // A status line: redrawn in place on a terminal, else printed when final or once a minute.
  void show(const std::string& text, bool final_line) {
    static const bool tty = isatty(STDOUT_FILENO) != 0;
    const auto now = std::chrono::steady_clock::now();
    if (tty) {
      std::printf("\r\033[K%s%s", text.substr(0, final_line ? std::string::npos : 150).c_str(), final_line ? "\n" : "");
    } else if (final_line || now - last_shown_ >= std::chrono::seconds(60)) {
      std::printf("%s\n", text.c_str());
      last_shown_ = now;
    }
    std::fflush(stdout);
  }

  // The last line the running child wrote to the log (its progress bar: count, rate, ETA).
  static std::string last_log_line(const fs::path& log) {
    std::ifstream in(log, std::ios::binary);
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff from = std::max<std::streamoff>(0, size - 4096);
    in.seekg(from);
    std::string tail(static_cast<std::size_t>(size - from), '\0');
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    std::string last;
    std::stringstream lines(tail);
    for (std::string line; std::getline(lines, line);)
      for (std::stringstream parts(line); std::getline(parts, line, '\r');)
        if (line.find_first_not_of(" \t") != std::string::npos) last = line;
    return last;
  }

  void execute(const Stage& s, std::chrono::steady_clock::time_point start, const std::string& started) {
    std::string line = quoted((bin_ / s.command.front()).string());
    for (std::size_t k = 1; k < s.command.size(); ++k) line += " " + quoted(s.command[k]);
    if (s.resumable && fs::exists(dir(s.name))) line += " --resume";
    if (!launcher_.empty() && splits_over_ranks(s.command.front())) line = launcher_ + " " + line;
    const fs::path log = out_ / "study.log";
    {
      std::ofstream(log, std::ios::app) << "\n==== " << s.name << ": " << line << "\n";
    }
    // The child runs through the shell (for the redirections); run_study shows its progress
    // from the log while it runs.
    const std::string shell_line = line + " >>" + quoted(log.string()) + " 2>&1 </dev/null";
    const pid_t child = fork();
    OA_CHECK(child >= 0, "stage {}: cannot start a process", s.name);
    if (child == 0) {
      execl("/bin/sh", "sh", "-c", shell_line.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    show(started + " started", true);
    int status = 0;
    while (waitpid(child, &status, WNOHANG) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      show(fmt::format("  {} {}: {}", oa::format_duration(seconds_since(start)), s.name, last_log_line(log)), false);
    }
    OA_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
             "stage {} failed (exit {}); its output is at the end of {}. Fix the cause and rerun: finished stages "
             "are kept",
             s.name, WIFEXITED(status) ? WEXITSTATUS(status) : -1, log.string());
    oa::io::write_file_atomic(record(s).string(),
                              Json{{"command", s.command}, {"seconds", seconds_since(start)}}.dump(2) + "\n");
  }

 public:
  // The seconds the finished stages took, over every run of the study (a stage killed midway
  // and resumed counts its last run only).
  double stage_seconds(const std::vector<Stage>& stages) const {
    double total = 0;
    for (const auto& s : stages)
      if (fs::exists(record(s))) {
        std::ifstream in(record(s));
        total += Json::parse(in, nullptr, false).value("seconds", 0.0);
      }
    return total;
  }

  fs::path out_, bin_;
  std::string launcher_;
  std::chrono::steady_clock::time_point last_shown_ = std::chrono::steady_clock::now();
};

// ---- the plan ---------------------------------------------------------------------------------

// A model of the study: a point on one of its capacity axes.
struct StudyModel {
  std::string name;        // dense, rung-0.9, resnet32, parity
  std::string ladder;      // prune, depth or memorisation
  double x = 0;            // the sparsity (prune) or the depth (depth)
  std::string checkpoint;
  std::string trained_on;  // the file whose "parameters" or ladder entry gives its capacity
  std::int64_t train_limit = 0;  // the training samples it saw (0: all), for its train accuracy
  // The model whose stages measure this one: empty for its own; "dense" for a given depth
  // checkpoint that is A (ImageNet's ResNet-50), so the same file is not measured twice.
  std::string measured_as{};
  const std::string& stages() const { return measured_as.empty() ? name : measured_as; }
};

// The depth of a CIFAR-style ResNet name (resnet32 -> 32).
double depth_of(const std::string& architecture) {
  std::size_t digits = architecture.find_first_of("0123456789");
  OA_CHECK(digits != std::string::npos, "--depth: '{}' is not a resnet with a depth", architecture);
  return std::stod(architecture.substr(digits));
}

// The depth ladder's given checkpoints ("resnet50=PATH,resnet101=PATH"): (architecture, path)
// pairs, each file a checkpoint whose metadata names that architecture, so that every stage
// loads it without --arch (a bare torchvision file is refused: convert it).
std::vector<std::pair<std::string, std::string>> given_checkpoints(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> given;
  for (const auto& item : split_list(text)) {
    const std::size_t equals = item.find('=');
    OA_CHECK(equals != std::string::npos && equals > 0 && equals + 1 < item.size(),
             "depth_checkpoints: '{}' is not ARCH=PATH (e.g. resnet50=weights/resnet50.safetensors)", item);
    const std::string arch = item.substr(0, equals), path = item.substr(equals + 1);
    OA_CHECK(fs::is_regular_file(path), "depth_checkpoints: {}: no such file", path);
    OA_CHECK(oa::io::read_safetensors_metadata(path).count("format"),
             "depth_checkpoints: {} has no OutlierAttack metadata (a torchvision state_dict as it is?): convert it "
             "with tools/torchvision_to_safetensors.py (README \"ImageNet\")",
             path);
    const Json meta = oa::io::read_checkpoint_metadata(path);
    OA_CHECK(meta.value("architecture", "") == arch, "depth_checkpoints: {} holds a {}, not a {}", path,
             meta.value("architecture", "model of no named architecture"), arch);
    given.emplace_back(arch, path);
  }
  return given;
}

class Study {
 public:
  Study(StudyConfig config, fs::path out, fs::path bin)
      : c_(std::move(config)), out_(out), runner_(out, bin, c_.launcher) {}

  void plan() {
    OA_CHECK(c_.data != "image-folder" || (!c_.model_a.empty() && !c_.data_dir.empty()),
             "data image-folder: give data_dir (--data-dir, the image folder) and model_a (--model-a, converted "
             "torchvision weights); A is not trained on an image folder here (README \"ImageNet\")");
    OA_CHECK(c_.depth.empty() || c_.depth_checkpoints.empty(),
             "give the depth ladder once: depth (trained here: '{}') or depth_checkpoints (given: '{}')", c_.depth,
             c_.depth_checkpoints);
    // 1. A and its pruning ladder.
    std::string a = c_.model_a;
    if (a.empty()) {
      add({"train-A", train_command(c_.architecture, c_.a_epochs, 0, "train-A"), true, 10});
      a = (runner_.dir("train-A") / "checkpoint.safetensors").string();
    }
    a_checkpoint_ = a;
    fs::path ladder = c_.ladder;
    if (ladder.empty()) {
      add({"prune",
           with_common({"run_prune", "--from", a, "--sparsity", c_.rungs, "--method", "global", "--finetune-epochs",
                        "1", "--out", runner_.dir("prune").string()}),
           true, 10});
      ladder = runner_.dir("prune");
    }
    ladder_ = ladder;
    models_.push_back({"dense", "prune", 0.0, a, (ladder / "ladder.json").string(), 0});
    for (const auto& rung : split_list(c_.rungs)) {
      const std::string name = "rung-" + rung;
      models_.push_back({name, "prune", std::stod(rung), (ladder / name / "checkpoint.safetensors").string(),
                         (ladder / "ladder.json").string(), 0});
    }
    // The depth ladder, trained here or given (its capacity then from run_eval's parameter
    // count), and the memorisation control, trained here.
    for (const auto& arch : split_list(c_.depth)) {
      const std::string stage = "train-" + arch;
      add({stage,
           train_command(arch, c_.depth_epochs, c_.depth_limit_train, stage, 1000,
                         {"--batch-size", std::to_string(c_.depth_batch_size)}),
           true, 3});
      models_.push_back({arch, "depth", depth_of(arch), (runner_.dir(stage) / "checkpoint.safetensors").string(),
                         (runner_.dir(stage) / "summary.json").string(), c_.depth_limit_train});
    }
    for (const auto& [arch, path] : given_checkpoints(c_.depth_checkpoints)) {
      StudyModel m{arch, "depth", depth_of(arch), path, "", 0, fs::exists(a) && fs::equivalent(path, a) ? "dense" : ""};
      m.trained_on = runner_.dir(eval_stage(m.stages(), "test")).string() + ".json";
      models_.push_back(m);
    }
    // The control must fit its labels, which only the samples themselves explain: no augmentation
    // and no weight decay (both fight memorisation), small batches for more steps. Its test
    // accuracy is chance by construction, so each epoch's progress line looks at 200 samples only.
    add({"train-parity",
         train_command(c_.architecture, c_.parity_epochs, c_.parity_limit_train, "train-parity", 200,
                       {"--labels", "parity", "--batch-size", "32", "--crop-padding", "0", "--flip", "false",
                        "--weight-decay", "0"}),
         true, 3});
    models_.push_back({"parity", "memorisation", 0.0, (runner_.dir("train-parity") / "checkpoint.safetensors").string(),
                       (runner_.dir("train-parity") / "summary.json").string(), c_.parity_limit_train});
    // 2. Accuracy; 3. attacks; 4. equal adversarial fine-tuning and the attacks again.
    std::vector<StudyModel> measured;  // each once
    std::copy_if(models_.begin(), models_.end(), std::back_inserter(measured),
                 [](const StudyModel& m) { return m.measured_as.empty(); });
    for (const auto& m : measured)
      for (const std::string split : {"train", "test"}) {
        std::int64_t limit = c_.eval_limit;
        if (split == "train" && m.train_limit > 0) limit = limit > 0 ? std::min(limit, m.train_limit) : m.train_limit;
        add({eval_stage(m.name, split),
             with_common({"run_eval", "--model", m.checkpoint, "--split", split, "--limit", std::to_string(limit),
                          "--out", (runner_.dir(eval_stage(m.name, split)).string() + ".json")}),
             false, 0.5});
      }
    for (const auto& m : measured) add_attacks(m.name, m.checkpoint);
    // run_adv_train's own test accuracy after fine-tuning only shows progress: on --eval-limit
    // samples, as the study's accuracies, but at least on the robustness measure's.
    const std::int64_t adv_limit_test = c_.eval_limit > 0 ? std::max(c_.eval_limit, c_.adv_robust_n) : 0;
    for (const auto& m : measured) {
      if (m.ladder == "memorisation") continue;
      const std::string stage = "adv-" + m.name;
      add({stage,
           with_common({"run_adv_train", "--from", m.checkpoint, "--attack", "pgd-linf", "--eps", fmt::format("{}", c_.adv_eps),
                        "--steps", std::to_string(c_.adv_steps), "--adv-examples", std::to_string(c_.adv_examples),
                        "--limit-test", std::to_string(adv_limit_test), "--robust-n", std::to_string(c_.adv_robust_n),
                        "--robust-steps", std::to_string(c_.adv_robust_steps), "--robust-restarts", "1",
                        "--out", runner_.dir(stage).string()}),
           true, 4});
      add_attacks("after-" + m.name, (runner_.dir(stage) / "checkpoint.safetensors").string());
    }
    // 5. The OutlierAttack of A against each chosen rung.
    for (const auto& rung : split_list(c_.outlier_rungs)) {
      const std::string stage = "outlier-rung-" + rung;
      add({stage,
           with_common({"run_outlier", "--a", a, "--b", (ladder / ("rung-" + rung) / "checkpoint.safetensors").string(),
                        "--limit", std::to_string(c_.outlier_limit), "--max-per-set",
                        std::to_string(c_.outlier_max_per_set), "--rays-queries", std::to_string(c_.outlier_rays_queries),
                        "--budgets", c_.outlier_budgets, "--eps", c_.outlier_eps, "--ddn-steps",
                        std::to_string(c_.ddn_steps), "--fmn-steps", std::to_string(c_.fmn_steps), "--out",
                        runner_.dir(stage).string()}),
           true, 8});
    }
    // 6. A sanity check: twice the iterations must not give larger distances (on A, test).
    add({"check-iterations",
         with_common({"run_cw", "--model", a, "--split", "test", "--n", std::to_string(c_.attack_n), "--attack",
                      "ddn,fmn-linf", "--ddn-steps", std::to_string(2 * c_.ddn_steps), "--fmn-steps",
                      std::to_string(2 * c_.fmn_steps), "--out", runner_.dir("check-iterations").string()}),
         true, 1});
  }

  void run() { runner_.run(stages_); }
  double seconds() const { return runner_.stage_seconds(stages_); }

  // Everything the report shows (experiments/study/results_schema.md).
  Json results() const;

 private:
  static std::string eval_stage(const std::string& model, const std::string& split) {
    return "eval-" + model + "-" + split;
  }
  static std::string attack_stage(const std::string& model, const std::string& split) {
    return "attack-" + model + "-" + split;
  }
  void add(Stage s) { stages_.push_back(std::move(s)); }

  // The flags every child takes: data directory, seed (where it has one), threads.
  std::vector<std::string> with_common(std::vector<std::string> command) const {
    if (!c_.data_dir.empty()) command.insert(command.end(), {"--data-dir", c_.data_dir});
    if (command.front() == "run_train") command.insert(command.end(), {"--data", c_.data});
    command.insert(command.end(), {"--device", c_.device});
    if (command.front() != "run_eval" && command.front() != "run_cw")
      command.insert(command.end(), {"--seed", std::to_string(c_.seed)});
    command.insert(command.end(), {"--threads", std::to_string(c_.threads)});
    return command;
  }
  // run_train; its own test accuracy per epoch, on the first `limit_test` test samples, only
  // shows progress (the study's is run_eval's).
  std::vector<std::string> train_command(const std::string& arch, std::int64_t epochs, std::int64_t limit,
                                         const std::string& stage, std::int64_t limit_test = 1000,
                                         std::vector<std::string> extra = {}) const {
    std::vector<std::string> command = {"run_train",     "--model", arch, "--epochs", std::to_string(epochs),
                                        "--limit-train", std::to_string(limit), "--limit-test", std::to_string(limit_test),
                                        "--lr",          "0.05",    "--out", runner_.dir(stage).string()};
    command.insert(command.end(), extra.begin(), extra.end());
    return with_common(command);
  }
  // The minimal-distance attacks of one model on its first N train and N test samples.
  void add_attacks(const std::string& name, const std::string& checkpoint) {
    std::string attacks = c_.attacks;
    if (attacks.find("cw-l2") == std::string::npos) attacks = "cw-l2," + attacks;  // CW always, as proposed
    for (const std::string split : {"train", "test"})
      add({attack_stage(name, split),
           with_common({"run_cw", "--model", checkpoint, "--split", split, "--n", std::to_string(c_.attack_n),
                        "--attack", attacks, "--search-steps", std::to_string(c_.cw_search_steps), "--iterations",
                        std::to_string(c_.cw_iterations), "--ddn-steps", std::to_string(c_.ddn_steps), "--fmn-steps",
                        std::to_string(c_.fmn_steps), "--out", runner_.dir(attack_stage(name, split)).string()}),
           true, 2});
  }

  Json model_json(const StudyModel& m) const;
  Json outlier_json(const std::string& rung) const;
  Json checks_json() const;

  StudyConfig c_;
  fs::path out_, ladder_;
  std::string a_checkpoint_;
  StudyRunner runner_;
  std::vector<Stage> stages_;
  std::vector<StudyModel> models_;
};

// ---- the results --------------------------------------------------------------------------------

Json read_json(const fs::path& path) {
  std::ifstream in(path);
  OA_CHECK(in.good(), "cannot read {}", path.string());
  const Json j = Json::parse(in, nullptr, false);
  OA_CHECK(!j.is_discarded(), "{} is not JSON", path.string());
  return j;
}

// A CSV file written by record.h, as rows of column name -> text.
std::vector<std::map<std::string, std::string>> read_table(const fs::path& path) {
  std::ifstream in(path);
  OA_CHECK(in.good(), "cannot read {}", path.string());
  std::string line;
  std::getline(in, line);
  const auto header = oa::experiments::split_csv_line(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const auto fields = oa::experiments::split_csv_line(line);
    oa::experiments::check_field_count(path.string(), rows.size() + 2, fields.size(), header.size());
    std::map<std::string, std::string> row;
    for (std::size_t k = 0; k < header.size(); ++k) row[header[k]] = fields[k];
    rows.push_back(row);
  }
  return rows;
}

// A distance as JSON: null where it is NaN (a failure or a sample not attacked).
Json distance(const std::string& text) {
  const double d = std::stod(text);
  return std::isfinite(d) ? Json(d) : Json(nullptr);
}

// The per-sample best distances of run_cw's best/samples.csv (DIST of the schema).
Json dist_json(const fs::path& run) {
  Json d = {{"indices", Json::array()},    {"attacked", Json::array()},     {"l2", Json::array()},
            {"linf", Json::array()},       {"success_l2", Json::array()},   {"success_linf", Json::array()}};
  for (const auto& row : read_table(run / "best" / "samples.csv")) {
    const bool success = row.at("success") == "1";
    d["indices"].push_back(std::stoll(row.at("index")));
    d["attacked"].push_back(row.at("attacked") == "1");
    d["l2"].push_back(distance(row.at("l2")));
    d["linf"].push_back(distance(row.at("linf")));
    d["success_l2"].push_back(success);
    d["success_linf"].push_back(success);
  }
  return d;
}

// The nonzero parameters of a model: its ladder entry, or its run_train summary.
double capacity_of(const fs::path& source, const std::string& name) {
  const Json j = read_json(source);
  if (j.contains("rungs")) {
    for (const auto& rung : j["rungs"])
      if (rung.value("rung", "") == name) return rung.value("nonzero_parameters", 0.0);
    throw oa::Error(fmt::format("{}: no rung {}", source.string(), name));
  }
  return j.value("parameters", 0.0);
}

Json Study::model_json(const StudyModel& m) const {
  Json j = {{"name", m.name},
            {"x", m.x},
            {"capacity", capacity_of(m.trained_on, m.stages())},
            {"checkpoint", m.checkpoint},
            {"train_accuracy", read_json(runner_.dir(eval_stage(m.stages(), "train")).string() + ".json")["accuracy"]},
            {"test_accuracy", read_json(runner_.dir(eval_stage(m.stages(), "test")).string() + ".json")["accuracy"]}};
  for (const std::string split : {"train", "test"}) {
    j["attacks"]["before"][split] = dist_json(runner_.dir(attack_stage(m.stages(), split)));
    const fs::path after = runner_.dir(attack_stage("after-" + m.stages(), split));
    if (fs::exists(after / "best" / "samples.csv")) j["attacks"]["after"][split] = dist_json(after);
  }
  const fs::path adv = runner_.dir("adv-" + m.stages()) / "summary.json";
  if (fs::exists(adv)) {
    const Json s = read_json(adv);
    j["robust_accuracy"] = {{"before", s["robust_accuracy_before"]},
                            {"after", s["robust_accuracy_after"]},
                            {"eps", c_.adv_eps},
                            {"clean_before", s["clean_accuracy_before"]},
                            {"clean_after", s["clean_accuracy_after"]}};
    j["adv_examples"] = s["adv_examples"];
    j["warnings"] = s.value("warnings", Json::array());
  }
  return j;
}

// The OutlierAttack of A against one rung, in the schema's terms. The success curve is that of
// Square at the middle radius of --outlier-eps, and the margin-adjusted effect the one on
// white-box minimal Linf (FMN) of the training pool: both fixed here, before any result.
Json Study::outlier_json(const std::string& rung) const {
  const fs::path dir = runner_.dir("outlier-rung-" + rung);
  const Json s = read_json(dir / "summary.json");
  const auto radii = split_list(c_.outlier_eps);
  const std::size_t middle = radii.size() / 2;
  Json sets = Json::object();
  const Json measured = s.value("sets", Json::object());
  for (const auto& [name, set] : measured.items()) {
    const Json& square = set["square_linf"].at(middle);
    sets[name] = {{"n", set["attacked"]},
                  {"median_margin", set["a_margin"]["median"]},
                  {"square_eps", square["eps"]},
                  {"success_vs_queries", square["success_vs_queries"]},
                  {"median_queries", square["median_queries"]},
                  {"rays_linf", set.value("rays-linf", Json())},
                  {"whitebox_l2", set.value("ddn-l2", Json())},
                  {"whitebox_linf", set.value("fmn-linf", Json())}};
  }
  Json primary;
  for (const auto& fit : s.value("margin_adjusted", Json::array()))
    if (fit.value("pool", "") == "train" && fit.value("measure", "") == "log fmn-linf" && !fit.contains("error"))
      primary = fit;
  return {{"a", "dense"},
          {"b", "rung-" + rung},
          {"selection", s["selection"]},
          {"sets", sets},
          {"comparisons", s.value("comparisons", Json::array())},
          {"margin_adjusted", primary},
          {"margin_adjusted_all", s.value("margin_adjusted", Json::array())},
          {"files", dir.string()}};
}

// Carlini et al. (2019)'s checks that the study can make from its own numbers.
Json Study::checks_json() const {
  Json checks = Json::array();
  // Unbounded minimal-distance attacks break every sample they attack.
  for (const auto& m : models_)
    for (const std::string split : {"train", "test"}) {
      if (!m.measured_as.empty()) continue;  // checked as the model it is
      const Json s = read_json(runner_.dir(attack_stage(m.name, split)) / "best" / "summary.json");
      const auto attacked = s.value("attacked", 0);
      const auto successes = std::llround(s.value("success_rate", 0.0) * attacked);
      checks.push_back({{"name", "unbounded attacks reach 100%"},
                        {"model", m.name + " " + split},
                        {"passed", successes == attacked},
                        {"detail", fmt::format("{} of {} attacked samples broken", successes, attacked)}});
    }
  // Twice the iterations do not give larger distances (A, test samples, DDN and FMN).
  for (const auto& [attack, norm] : {std::pair{"ddn", "l2"}, std::pair{"fmn-linf", "linf"}}) {
    const fs::path fewer_file = runner_.dir(attack_stage("dense", "test")) / attack / "samples.csv";
    const fs::path more_file = runner_.dir("check-iterations") / attack / "samples.csv";
    if (!fs::exists(fewer_file) || !fs::exists(more_file)) {  // A classified none of them correctly
      checks.push_back({{"name", "more iterations do not give larger distances"},
                        {"model", std::string("dense test, ") + attack},
                        {"passed", false},
                        {"detail", "not checked: no sample was attacked"}});
      continue;
    }
    const auto fewer = read_table(fewer_file), more = read_table(more_file);
    double sum_fewer = 0, sum_more = 0;
    int pairs = 0;
    for (std::size_t k = 0; k < std::min(fewer.size(), more.size()); ++k) {
      const double a = std::stod(fewer[k].at(norm)), b = std::stod(more[k].at(norm));
      if (!std::isfinite(a) || !std::isfinite(b)) continue;
      sum_fewer += a;
      sum_more += b;
      ++pairs;
    }
    checks.push_back({{"name", "more iterations do not give larger distances"},
                      {"model", std::string("dense test, ") + attack},
                      {"passed", pairs > 0 && sum_more <= sum_fewer * 1.01},
                      {"detail", fmt::format("mean {} {:.4g} with {} steps, {:.4g} with twice as many ({} samples)",
                                             norm, pairs ? sum_fewer / pairs : 0.0,
                                             attack == std::string("ddn") ? c_.ddn_steps : c_.fmn_steps,
                                             pairs ? sum_more / pairs : 0.0, pairs)}});
  }
  for (const auto& rung : split_list(c_.outlier_rungs)) {
    const fs::path dir = runner_.dir("outlier-rung-" + rung);
    // The black-box minimal Linf (RayS) is no smaller than the white-box one (FMN), per sample.
    std::map<std::pair<std::string, std::string>, std::map<std::string, double>> linf;  // sample -> attack -> d
    for (const auto& row : read_table(dir / "samples.csv"))
      if (row.at("success") == "1") linf[{row.at("split"), row.at("index")}][row.at("attack")] = std::stod(row.at("linf"));
    int compared = 0, blackbox_smaller = 0;
    for (const auto& [sample, by] : linf)
      if (by.count("rays-linf") && by.count("fmn-linf")) {
        ++compared;
        blackbox_smaller += by.at("rays-linf") < 0.99 * by.at("fmn-linf");
      }
    checks.push_back({{"name", "black-box attacks are weaker than white-box ones"},
                      {"model", "dense (samples of the OutlierAttack against rung-" + rung + ")"},
                      {"passed", compared > 0 && blackbox_smaller * 10 <= compared},
                      {"detail", fmt::format("RayS found a Linf distance 1% below FMN's on {} of {} samples{}",
                                             blackbox_smaller, compared,
                                             blackbox_smaller * 10 > compared ? ": gradient masking?" : "")}});
    // Square's success rate does not fall as its radius grows.
    const Json s = read_json(dir / "summary.json");
    bool monotone = true;
    std::string rates;
    const Json sets = s.value("sets", Json::object());
    for (const auto& [name, set] : sets.items()) {
      double previous = -1;
      for (const auto& sq : set["square_linf"]) {
        const double rate = sq["success"]["rate"];
        monotone = monotone && rate >= previous;
        previous = rate;
      }
    }
    checks.push_back({{"name", "success grows with eps"},
                      {"model", "dense (Square, every set against rung-" + rung + ")"},
                      {"passed", monotone},
                      {"detail", monotone ? "non-decreasing at every radius of " + c_.outlier_eps
                                          : "a larger radius broke fewer samples"}});
  }
  for (const auto& m : models_)
    if (m.ladder != "memorisation" && m.measured_as.empty() && fs::exists(runner_.dir("adv-" + m.name) / "summary.json")) {
      const Json warnings = read_json(runner_.dir("adv-" + m.name) / "summary.json").value("warnings", Json::array());
      checks.push_back({{"name", "no sign of gradient masking in the fine-tuned model"},
                        {"model", m.name},
                        {"passed", warnings.empty()},
                        {"detail", warnings.empty() ? std::string("PGD no weaker than random noise")
                                                    : warnings.dump()}});
    }
  return checks;
}

Json Study::results() const {
  Json prune = {{"name", "prune-global"}, {"kind", "prune"}, {"x_label", "sparsity"}, {"models", Json::array()}};
  Json depth = {{"name", "depth"}, {"kind", "depth"}, {"x_label", "depth"}, {"models", Json::array()}};
  Json memorisation;
  for (const auto& m : models_) {
    if (m.ladder == "prune") prune["models"].push_back(model_json(m));
    if (m.ladder == "depth") depth["models"].push_back(model_json(m));
    if (m.ladder == "memorisation") memorisation = model_json(m);
  }
  Json ladders = Json::array({prune});
  if (!depth["models"].empty()) ladders.push_back(depth);
  Json outliers = Json::array();
  for (const auto& rung : split_list(c_.outlier_rungs)) outliers.push_back(outlier_json(rung));
  return {{"ladders", ladders}, {"memorisation", memorisation}, {"outlier", outliers}, {"checks", checks_json()}};
}

// ---- main ---------------------------------------------------------------------------------------

struct Args {
  std::string preset = "quick", config_file, out;
  bool report_only = false;
  StudyConfig config;
};

// The repository's commit, when run_study runs from a git checkout ("-" otherwise).
std::string git_commit() {
  const std::string command = "git -C " + quoted(OA_SOURCE_DIR) + " rev-parse --short HEAD 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "-";
  char line[64] = {0};
  const bool read = std::fgets(line, sizeof line, pipe) != nullptr;
  pclose(pipe);
  std::string commit = read ? line : "-";
  while (!commit.empty() && (commit.back() == '\n' || commit.back() == ' ')) commit.pop_back();
  return commit.empty() ? "-" : commit;
}

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// The shipped checkpoints (models/weights/...) are named relative to the repository: found from
// any working directory.
StudyConfig with_shipped_paths(StudyConfig c) {
  for (std::string* path : {&c.model_a, &c.ladder})
    if (!path->empty() && fs::path(*path).is_relative() && !fs::exists(*path) &&
        fs::exists(fs::path(OA_SOURCE_DIR) / *path))
      *path = (fs::path(OA_SOURCE_DIR) / *path).string();
  return c;
}

// The verdicts and the report again, from the results.json in `out` (after a change of the
// report module, without rerunning a stage).
int report_only(const fs::path& out) {
  Json results = read_json(out / "results.json");
  results["hypotheses"] = oa::study::write_report(results, out);
  oa::io::write_file_atomic((out / "results.json").string(), results.dump(2) + "\n");
  std::printf("wrote %s/{report.html,report.md,results.json}\n", out.string().c_str());
  return 0;
}

int run(const CLI::App& app, Args& args) {
  using namespace oa;
  if (args.report_only) return report_only(args.out);
  // The configuration: the preset, then the config file, then the flags given.
  StudyConfig config = study::load_study_config(args.preset, args.config_file);
  experiments::take_given_flags(app, config);
  const auto started = std::chrono::system_clock::now();
  const std::string out = args.out.empty() ? fmt::format("results/{}-{:%Y%m%d-%H%M%S}", args.preset,
                                                         std::chrono::floor<std::chrono::seconds>(started))
                                           : args.out;
  const fs::path config_path = fs::path(out) / "config.json";
  Json resolved = experiments::to_json(config);
  resolved["preset"] = args.preset;
  if (fs::exists(config_path)) {
    // The launcher says how the stages run, not what they compute: any launcher may resume.
    Json earlier = read_json(config_path);
    earlier["launcher"] = resolved["launcher"];
    OA_CHECK(earlier == resolved, "{} holds a study with another configuration ({}); rerun with the same one or "
             "choose another --out", config_path.string(), earlier.dump());
    std::printf("resume: the study in %s\n", out.c_str());
  }
  fs::create_directories(out);
  const fs::path bin = fs::canonical("/proc/self/exe").parent_path();
  Study study(with_shipped_paths(config), out, bin);
  study.plan();  // before config.json: a config the plan refuses is not kept, a corrected one may use the same --out
  io::write_file_atomic(config_path.string(), resolved.dump(2) + "\n");
  std::printf("study (%s preset) in %s; the children's output goes to %s/study.log\n", args.preset.c_str(), out.c_str(),
              out.c_str());
  study.run();
  Json results = study.results();
  results["run"] = {{"name", fs::path(out).filename().string()},
                    {"preset", args.preset},
                    {"cpu", cpu_name()},
                    {"threads", config.threads},
                    {"seconds", study.seconds()},
                    {"git", git_commit()},
                    {"started", fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::floor<std::chrono::seconds>(started))},
                    {"config", resolved}};
  results["hypotheses"] = study::write_report(results, out);
  io::write_file_atomic((fs::path(out) / "results.json").string(), results.dump(2) + "\n");
  std::printf("\n");
  for (const auto& h : results["hypotheses"])
    std::printf("%-3s %-14s %s\n", h.value("id", "").c_str(), h.value("verdict", "").c_str(),
                h.value("statistic", "").c_str());
  std::printf("\nwrote %s/{report.html,report.md,results.json}\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  CLI::App app{"The whole study: model A, its pruning and depth ladders and a memorisation control; accuracy, "
               "minimal adversarial distances, equal adversarial fine-tuning, the OutlierAttack, sanity checks, "
               "and a report with a verdict per hypothesis. Reruns resume."};
  app.add_option("--preset", args.preset,
                 "quick (minutes), full (the proposal's study on Fashion-MNIST, hours on 2 cores), large (full at "
                 "a GPU job's scale), cifar10 or imagenet (GPU jobs; imagenet needs your data and weights: README "
                 "\"ImageNet\") or tiny (tests)")
      ->capture_default_str();
  app.add_option("--config", args.config_file, "A JSON file of config keys (over the preset; flags over both)");
  CLI::Option* out = app.add_option("--out", args.out, "Output directory (default: results/<preset>-<time>)");
  app.add_flag("--report-only", args.report_only, "Only write the report again from --out's results.json")
      ->needs(out);
  oa::experiments::add_flags(app, args.config);
  return oa::experiments::run_cli(app, argc, argv, "run_study", [&] {
    oa::experiments::check_single_rank(
        "run_study", "run it as one process and give its stages ranks with --launcher 'mpirun -np K'");
    return run(app, args);
  });
}
