// run_cw: minimal-distance attacks on the first N samples of a split, per-sample results.
//   run_cw --model models/weights/resnet20-fashion-mnist/checkpoint.safetensors
//          --attack cw-l2,ddn,cw-linf,pgd-bisect-linf --n 100 --out runs/cw
// The attacks (--attack takes one or a comma-separated list):
//   cw-l2            Carlini-Wagner L2 (attacks/cw_l2.h)
//   cw-linf          Carlini-Wagner Linf, the paper's tau iteration (attacks/cw_linf.h)
//   ddn              Decoupled Direction and Norm, L2 (attacks/ddn.h)
//   fmn-linf         Fast Minimum-Norm, Linf (attacks/fmn.h)
//   pgd-bisect-linf  PGD with a per-sample bisection of the radius: an upper bound on the
//   pgd-bisect-l2    minimal distance, the cross-check of the others (attacks/pgd.h)
// Only samples the model classifies correctly are attacked: untargeted, or with --targeted
// towards --target next ((label + 1) mod classes) or random (seeded by --seed and the sample).
// Under --out (under --out/<model> for each checkpoint when --model lists several):
//   <attack>/samples.csv    one row per sample (pandas.read_csv): index, label, target (-1:
//                           untargeted), attacked, success, l2, linf, l0, c, forwards,
//                           backwards; failed or not attacked: NaN distances, never 0
//   <attack>/summary.json   success rate; mean and median L2 / Linf over successes with
//                           bootstrap 95% intervals; passes and seconds; the options
//   best/samples.csv        per sample the smallest L2 and the smallest Linf over the
//   best/summary.json       successful examples of all attacks, and the attack that found
//                           each: a weak attack cannot make a model look robust
// All files are rewritten atomically after every batch (every attack runs on a batch before
// the next one starts). --resume skips the samples already in each attack's samples.csv, and
// refuses to continue a run made with other options; best/ is recomputed from the attacks.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "attacks/cw_l2.h"
#include "attacks/cw_linf.h"
#include "attacks/ddn.h"
#include "attacks/fmn.h"
#include "attacks/pgd.h"
#include "experiments/common/cli.h"
#include "experiments/common/datasets.h"
#include "experiments/common/model_io.h"
#include "experiments/common/statistics.h"
#include "experiments/common/training.h"
#include "framework/autograd/node.h"
#include "framework/io/atomic_file.h"
#include "framework/prune/to_sparse.h"
#include "framework/util/progress_bar.h"
#include "framework/util/runtime.h"

namespace fs = std::filesystem;
using oa::attacks::AttackOutput;

namespace {

const std::vector<std::string> kAttackNames = {"cw-l2",    "cw-linf",         "ddn",
                                               "fmn-linf", "pgd-bisect-linf", "pgd-bisect-l2"};

struct Args {
  std::vector<std::string> checkpoints, attacks{"cw-l2"};
  std::string split = "test", out, data_dir, preset = "fast", target = "next";
  std::int64_t n = 100, batch_size = 50;
  bool targeted = false, resume = false;
  std::uint64_t seed = 0;
  // The CW attacks' flags; unset, each attack takes its preset's value.
  std::optional<std::int64_t> iterations;  // both
  std::optional<double> kappa;             // both
  std::optional<std::int64_t> search_steps;  // cw-l2
  std::optional<double> lr, c0;
  std::optional<bool> warm_start;
  bool abort_early = true;
  std::optional<std::int64_t> max_steps;  // cw-linf
  std::optional<double> linf_lr, linf_c0;
  oa::attacks::CwLinfOptions cw_linf;  // c_max, tau0, tau_decrease, tau_min
  oa::attacks::DdnOptions ddn;
  oa::attacks::FmnOptions fmn;
  oa::attacks::PgdOptions pgd{.eps = 0.0, .iterations = 50};  // eps 0: 1 (Linf) or 10 (L2)
  std::int64_t bisect_steps = 10;
  double sparse_threshold = 2.0;  // above 1: the dense path everywhere
  oa::experiments::RuntimeOptions runtime;
};

// ---- the attacks, with their options resolved from the preset and the flags -------------

oa::attacks::CwL2Options cw_l2_options(const Args& a) {
  // paper: the struct's defaults (9 search steps of 10000 iterations, restarts);
  // fast: 5 search steps of 1000 iterations, warm-started.
  oa::attacks::CwL2Options o;
  if (a.preset == "fast") o = {.search_steps = 5, .iterations = 1000, .warm_start = true};
  o.search_steps = a.search_steps.value_or(o.search_steps);
  o.iterations = a.iterations.value_or(o.iterations);
  o.lr = a.lr.value_or(o.lr);
  o.c0 = a.c0.value_or(o.c0);
  o.kappa = a.kappa.value_or(o.kappa);
  o.warm_start = a.warm_start.value_or(o.warm_start);
  o.abort_early = a.abort_early;
  o.targeted = a.targeted;
  return o;
}

oa::attacks::CwLinfOptions cw_linf_options(const Args& a) {
  // paper: the struct's defaults (1000 iterations per (tau, c), c0 1e-5, no cap); fast: 50
  // iterations per (tau, c) from c0 0.1 (the paper's c0 spends 20 doublings), 500 steps in all.
  oa::attacks::CwLinfOptions o = a.cw_linf;
  if (a.preset == "fast") {
    o.iterations = 50;
    o.c0 = 0.1;
    o.max_steps = 500;
  }
  o.iterations = a.iterations.value_or(o.iterations);
  o.lr = a.linf_lr.value_or(o.lr);
  o.c0 = a.linf_c0.value_or(o.c0);
  o.kappa = a.kappa.value_or(o.kappa);
  o.max_steps = a.max_steps.value_or(o.max_steps);
  o.targeted = a.targeted;
  return o;
}

oa::attacks::PgdOptions pgd_options(const Args& a, oa::attacks::Norm norm) {
  oa::attacks::PgdOptions o = a.pgd;
  o.norm = norm;
  if (o.eps == 0) o.eps = norm == oa::attacks::Norm::Linf ? 1.0 : 10.0;
  o.targeted = a.targeted;
  return o;
}

// An attack ready to run: its name, its options as summary.json records them, and the call.
struct Attack {
  std::string name;
  nlohmann::json options;
  std::function<AttackOutput(oa::nn::Module&, const oa::Tensor&, const oa::Tensor&)> run;
};

// `name` is one of kAttackNames.
Attack make_attack(const std::string& name, const Args& a) {
  using namespace oa::attacks;
  if (name == "cw-l2") {
    const auto o = cw_l2_options(a);
    return {name,
            {{"search_steps", o.search_steps}, {"iterations", o.iterations}, {"c0", o.c0}, {"lr", o.lr},
             {"kappa", o.kappa}, {"warm_start", o.warm_start}, {"abort_early", o.abort_early}},
            [o](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) { return cw_l2(m, x, y, o); }};
  }
  if (name == "cw-linf") {
    const auto o = cw_linf_options(a);
    return {name,
            {{"iterations", o.iterations}, {"lr", o.lr}, {"c0", o.c0}, {"c_max", o.c_max}, {"tau0", o.tau0},
             {"tau_decrease", o.tau_decrease}, {"tau_min", o.tau_min}, {"max_steps", o.max_steps}, {"kappa", o.kappa}},
            [o](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) { return cw_linf(m, x, y, o); }};
  }
  if (name == "ddn") {
    DdnOptions o = a.ddn;
    o.targeted = a.targeted;
    return {name,
            {{"steps", o.steps}, {"gamma", o.gamma}, {"init_norm", o.init_norm}, {"alpha_max", o.alpha_max},
             {"alpha_min", o.alpha_min}},
            [o](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) { return ddn(m, x, y, o); }};
  }
  if (name == "fmn-linf") {
    FmnOptions o = a.fmn;
    o.targeted = a.targeted;
    return {name,
            {{"steps", o.steps}, {"alpha_init", o.alpha_init}, {"gamma_init", o.gamma_init},
             {"gamma_final", o.gamma_final}},
            [o](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) { return fmn_linf(m, x, y, o); }};
  }
  const auto o = pgd_options(a, name == "pgd-bisect-l2" ? Norm::L2 : Norm::Linf);
  const std::int64_t steps = a.bisect_steps;
  return {name,
          {{"eps_max", o.eps}, {"iterations", o.iterations}, {"bisect_steps", steps}, {"random_start", o.random_start}},
          [o, steps](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) {
            return pgd_bisect(m, x, y, o, steps);
          }};
}

// The target of a targeted attack on sample `index` of class `label`. A random target
// depends on (seed, index) only, so that a resumed run draws the same targets.
std::int64_t pick_target(const Args& a, std::int64_t index, std::int64_t label, std::int64_t classes) {
  if (a.target == "next") return (label + 1) % classes;
  std::seed_seq seeds{a.seed, static_cast<std::uint64_t>(index)};
  std::mt19937_64 rng(seeds);
  return (label + std::uniform_int_distribution<std::int64_t>(1, classes - 1)(rng)) % classes;
}

// ---- per-sample rows and their files ------------------------------------------------------

struct Row {
  std::int64_t index, label, target;  // target: -1 when untargeted
  bool attacked;                      // classified correctly, hence attacked
  oa::attacks::SampleResult r;
};
using Rows = std::map<std::int64_t, Row>;

constexpr const char* kHeader = "index,label,target,attacked,success,l2,linf,l0,c,forwards,backwards";

std::string to_csv(const Rows& rows) {
  std::string csv = std::string(kHeader) + "\n";
  for (const auto& [i, row] : rows)
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", row.index, row.label, row.target, int(row.attacked),
                       int(row.r.success), row.r.l2, row.r.linf, row.r.l0, row.r.c, row.r.forwards, row.r.backwards);
  return csv;
}

// The rows of an earlier samples.csv, for --resume.
Rows read_csv(const fs::path& path) {
  Rows rows;
  std::ifstream in(path);
  std::string line;
  OA_CHECK(std::getline(in, line) && line == kHeader, "{}: not a samples.csv of this run_cw (header differs)",
           path.string());
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string f[11];
    for (auto& field : f) OA_CHECK(std::getline(ss, field, ','), "{}: short row '{}'", path.string(), line);
    Row row{std::stoll(f[0]), std::stoll(f[1]), std::stoll(f[2]), f[3] == "1", {}};
    row.r = {f[4] == "1",     std::stod(f[5]),  std::stod(f[6]), std::stod(f[7]),
             std::stod(f[8]), std::stoll(f[9]), std::stoll(f[10])};
    rows[row.index] = row;
  }
  return rows;
}

// Success rate, distances and passes over rows: the part of summary.json every attack and
// best/ share.
nlohmann::json outcome_json(const Rows& rows) {
  std::vector<double> l2, linf;
  std::int64_t attacked = 0, successes = 0, forwards = 0, backwards = 0;
  for (const auto& [i, row] : rows) {
    if (!row.attacked) continue;
    ++attacked;
    forwards += row.r.forwards;
    backwards += row.r.backwards;
    if (!row.r.success) continue;
    ++successes;
    l2.push_back(row.r.l2);
    linf.push_back(row.r.linf);
  }
  auto stats = [](const std::vector<double>& v) {
    const auto s = oa::experiments::summarize(v);
    return nlohmann::json{{"mean", s.mean}, {"median", s.median}, {"mean_ci95", {s.mean_ci_low, s.mean_ci_high}}};
  };
  const auto per_attacked = [&](std::int64_t count) { return attacked ? double(count) / double(attacked) : 0.0; };
  return {{"samples", rows.size()},
          {"attacked", attacked},
          {"clean_accuracy", rows.empty() ? 0.0 : double(attacked) / double(rows.size())},
          {"success_rate", per_attacked(successes)},
          {"l2", stats(l2)},
          {"linf", stats(linf)},
          {"forwards_per_sample", per_attacked(forwards)},
          {"backwards_per_sample", per_attacked(backwards)}};
}

// ---- one model ----------------------------------------------------------------------------

// What identifies a run, in every summary.json: --resume continues only a run with the same.
nlohmann::json run_identity(const Args& a, const std::string& checkpoint, const std::string& attack) {
  return {{"checkpoint", checkpoint},
          {"attack", attack},
          {"split", a.split},
          {"targeted", a.targeted},
          {"target", a.targeted ? nlohmann::json(a.target) : nlohmann::json(nullptr)},
          {"seed", a.targeted && a.target == "random" ? nlohmann::json(a.seed) : nlohmann::json(nullptr)}};
}

// One attack on one model: its rows, where they go, and the seconds spent on it.
struct AttackRun {
  Attack attack;
  fs::path dir;  // empty: nothing is written
  nlohmann::json identity;
  Rows rows;
  double seconds = 0;

  nlohmann::json summary() const {
    nlohmann::json s = identity;
    s.update(outcome_json(rows));
    s["seconds"] = seconds;
    s["options"] = attack.options;
    return s;
  }
  void write() const {
    if (dir.empty()) return;
    fs::create_directories(dir);
    oa::io::write_file_atomic((dir / "samples.csv").string(), to_csv(rows));
    oa::io::write_file_atomic((dir / "summary.json").string(), summary().dump(2) + "\n");
  }
  // --resume: the rows and seconds of an earlier run with the same identity and options.
  void resume(bool allowed) {
    const fs::path csv = dir / "samples.csv", json = dir / "summary.json";
    if (dir.empty() || !fs::exists(csv)) return;
    OA_CHECK(allowed, "{} exists: pass --resume to continue it, or choose another --out", csv.string());
    std::ifstream in(json);
    const auto earlier = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    OA_CHECK(earlier.is_object(), "--resume: {} is missing or not JSON", json.string());
    nlohmann::json expected = identity;
    expected["options"] = attack.options;
    for (const auto& [key, value] : expected.items())
      OA_CHECK(earlier.value(key, nlohmann::json()) == value,
               "--resume: {} was written with {} = {}, this run has {}; resume with the same flags or choose "
               "another --out",
               json.string(), key, earlier.value(key, nlohmann::json()).dump(), value.dump());
    rows = read_csv(csv);
    seconds = earlier.value("seconds", 0.0);
    std::printf("resume: %zu samples already done in %s\n", rows.size(), csv.string().c_str());
  }
};

// best/: per sample (done by every attack), the smallest L2 and the smallest Linf over the
// successful examples of all attacks, which attack found each, and the passes of all attacks.
struct Best {
  Rows rows;  // r.l2 and r.linf are the minima; l0 and c are NaN
  std::map<std::int64_t, std::string> l2_by, linf_by;
};

Best best_of(const std::vector<AttackRun>& runs) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Best best;
  for (const auto& [index, first] : runs.front().rows) {
    Row row{first.index, first.label, first.target, first.attacked, {false, nan, nan, nan, nan, 0, 0}};
    std::string l2_by, linf_by;
    bool done_by_all = true;
    for (const auto& run : runs) {
      const auto it = run.rows.find(index);
      if (it == run.rows.end()) {
        done_by_all = false;
        break;
      }
      const auto& r = it->second.r;
      row.r.forwards += r.forwards;
      row.r.backwards += r.backwards;
      if (!r.success) continue;
      row.r.success = true;
      if (std::isnan(row.r.l2) || r.l2 < row.r.l2) {
        row.r.l2 = r.l2;
        l2_by = run.attack.name;
      }
      if (std::isnan(row.r.linf) || r.linf < row.r.linf) {
        row.r.linf = r.linf;
        linf_by = run.attack.name;
      }
    }
    if (!done_by_all) continue;
    best.rows[index] = row;
    best.l2_by[index] = l2_by;
    best.linf_by[index] = linf_by;
  }
  return best;
}

// Writes best/ (when dir is set) and returns its summary.
nlohmann::json write_best(const std::vector<AttackRun>& runs, const fs::path& dir, nlohmann::json identity) {
  const Best best = best_of(runs);
  std::string csv = "index,label,target,attacked,success,l2,l2_attack,linf,linf_attack,forwards,backwards\n";
  std::map<std::string, std::int64_t> l2_wins, linf_wins;
  for (const auto& [i, row] : best.rows) {
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", row.index, row.label, row.target, int(row.attacked),
                       int(row.r.success), row.r.l2, best.l2_by.at(i), row.r.linf, best.linf_by.at(i), row.r.forwards,
                       row.r.backwards);
    if (row.r.success) {
      ++l2_wins[best.l2_by.at(i)];
      ++linf_wins[best.linf_by.at(i)];
    }
  }
  nlohmann::json s = std::move(identity);
  s.update(outcome_json(best.rows));
  std::vector<std::string> names;
  double seconds = 0;
  for (const auto& run : runs) {
    names.push_back(run.attack.name);
    seconds += run.seconds;
  }
  s["attacks"] = names;
  s["seconds"] = seconds;
  s["l2_found_by"] = l2_wins;
  s["linf_found_by"] = linf_wins;
  if (dir.empty()) return s;
  fs::create_directories(dir);
  oa::io::write_file_atomic((dir / "samples.csv").string(), csv);
  oa::io::write_file_atomic((dir / "summary.json").string(), s.dump(2) + "\n");
  return s;
}

// The summaries side by side (passes: forward and backward passes per attacked sample).
void print_table(const std::vector<AttackRun>& runs) {
  std::printf("%-16s %8s %10s %10s %10s %11s %9s %9s %9s\n", "attack", "success", "mean L2", "median L2", "mean Linf",
              "median Linf", "forwards", "backwards", "seconds");
  auto line = [](const std::string& name, const nlohmann::json& s, double seconds) {
    std::printf("%-16s %7.1f%% %10.4f %10.4f %10.4f %11.4f %9.0f %9.0f %9.1f\n", name.c_str(),
                100 * s["success_rate"].get<double>(), s["l2"]["mean"].get<double>(), s["l2"]["median"].get<double>(),
                s["linf"]["mean"].get<double>(), s["linf"]["median"].get<double>(),
                s["forwards_per_sample"].get<double>(), s["backwards_per_sample"].get<double>(), seconds);
  };
  double seconds = 0;
  for (const auto& run : runs) {
    line(run.attack.name, run.summary(), run.seconds);
    seconds += run.seconds;
  }
  if (runs.size() > 1) line("best", outcome_json(best_of(runs).rows), seconds);
}

void attack_model(const Args& args, const std::string& checkpoint, const fs::path& out) {
  using namespace oa;
  auto loaded = experiments::load_model(checkpoint);
  const Device device = args.runtime.apply();
  loaded.model->to(device);
  // Pruned convs swapped for sparse ones: the same function, fewer FLOPs (prune/to_sparse.h).
  if (args.sparse_threshold <= 1.0) {
    const std::size_t sparse_layers = prune::to_sparse(*loaded.model, args.sparse_threshold);
    std::printf("sparse path: %zu conv layers with at least %g zeros\n", sparse_layers, args.sparse_threshold);
  }
  // The data set the model was trained on, as its checkpoint says.
  experiments::DataChoice choice{.name = loaded.metadata.value("dataset", std::string("fashion-mnist")),
                                 .dir = args.data_dir,
                                 .labels = loaded.metadata.value("labels", std::string("true")),
                                 .limit = args.n};
  const data::Dataset d = experiments::load_dataset(choice, args.split);
  std::vector<AttackRun> runs;
  for (const auto& name : args.attacks) {
    AttackRun run{make_attack(name, args), out.empty() ? fs::path() : out / name,
                  run_identity(args, checkpoint, name), {}, 0.0};
    run.resume(args.resume);
    std::printf("%s on %s (%s): %lld %s samples, options %s\n", name.c_str(), checkpoint.c_str(),
                loaded.config.name.c_str(), (long long)d.size(), args.split.c_str(), run.attack.options.dump().c_str());
    runs.push_back(std::move(run));
  }
  const fs::path best_dir = out.empty() ? fs::path() : out / "best";
  ProgressBar bar(fmt::format("{}", fmt::join(args.attacks, ",")), d.size(), "sample");
  for (std::int64_t first = 0; first < d.size(); first += args.batch_size) {
    // The samples of this batch that some attack has not done yet.
    std::vector<std::int64_t> todo;
    for (std::int64_t i = first; i < std::min(d.size(), first + args.batch_size); ++i)
      for (const auto& run : runs)
        if (!run.rows.count(i)) {
          todo.push_back(i);
          break;
        }
    if (todo.empty()) continue;
    const Tensor x = data::take_rows(d.images, todo), y = data::take_rows(d.labels, todo);
    // Attack only what the model gets right; the others are recorded as not attacked.
    Tensor logits;
    {
      NoGradGuard no_grad;
      loaded.model->eval();
      logits = (*loaded.model)(x.to(device));
    }
    const std::int64_t classes = logits.size(1);
    const auto predicted = experiments::argmax_rows(logits);
    const auto labels = y.to_vector<std::int64_t>();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<Row> clean(todo.size());  // not attacked (yet): no distances
    for (std::size_t k = 0; k < todo.size(); ++k) {
      const bool right = predicted[k] == labels[k];
      const std::int64_t target = args.targeted ? pick_target(args, todo[k], labels[k], classes) : -1;
      clean[k] = Row{todo[k], labels[k], target, right, {false, nan, nan, nan, 0, 0, 0}};
    }
    for (auto& run : runs) {
      std::vector<std::int64_t> attacked;  // positions in todo
      std::vector<std::int64_t> goals;     // the labels (untargeted) or the targets
      for (std::size_t k = 0; k < todo.size(); ++k) {
        if (run.rows.count(todo[k])) continue;
        run.rows[todo[k]] = clean[k];
        if (!clean[k].attacked) continue;
        attacked.push_back(static_cast<std::int64_t>(k));
        goals.push_back(args.targeted ? clean[k].target : clean[k].label);
      }
      if (attacked.empty()) continue;
      const auto start = std::chrono::steady_clock::now();
      const auto result =
          run.attack.run(*loaded.model, data::take_rows(x, attacked).to(device),
                         Tensor::from_vector(goals, {static_cast<std::int64_t>(goals.size())}).to(device));
      run.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      for (std::size_t k = 0; k < attacked.size(); ++k) run.rows[todo[attacked[k]]].r = result.samples[k];
      run.write();
    }
    const auto best = write_best(runs, best_dir, run_identity(args, checkpoint, "best"));
    bar.update(best["samples"].get<std::int64_t>(),
               fmt::format("success {:.1f}% median L2 {:.4f} Linf {:.4f}", 100 * best["success_rate"].get<double>(),
                           best["l2"]["median"].get<double>(), best["linf"]["median"].get<double>()));
  }
  bar.finish();
  print_table(runs);
}

// One output directory per checkpoint: its parent directory's name for the
// checkpoint.safetensors that run_train writes, else its stem; repeats get -2, -3, ...
std::vector<std::string> model_dir_names(const std::vector<std::string>& checkpoints) {
  std::vector<std::string> names;
  std::set<std::string> taken;
  for (const auto& checkpoint : checkpoints) {
    const fs::path path = fs::absolute(checkpoint);
    std::string name = path.stem() == "checkpoint" ? path.parent_path().filename().string() : path.stem().string();
    std::string unique = name;
    for (int k = 2; taken.count(unique); ++k) unique = fmt::format("{}-{}", name, k);
    taken.insert(unique);
    names.push_back(unique);
  }
  return names;
}

int run(const Args& args) {
  std::set<std::string> seen;
  for (const auto& name : args.attacks) {
    OA_CHECK(std::find(kAttackNames.begin(), kAttackNames.end(), name) != kAttackNames.end(),
             "--attack: unknown attack '{}' (known: {})", name, fmt::join(kAttackNames, ", "));
    OA_CHECK(seen.insert(name).second, "--attack: '{}' is listed twice", name);
  }
  OA_CHECK(args.preset == "paper" || args.preset == "fast", "--preset must be paper or fast, got '{}'", args.preset);
  OA_CHECK(args.target == "next" || args.target == "random", "--target must be next or random, got '{}'",
           args.target);
  const auto names = model_dir_names(args.checkpoints);
  for (std::size_t m = 0; m < args.checkpoints.size(); ++m) {
    const fs::path out = args.out.empty() || args.checkpoints.size() == 1 ? fs::path(args.out) : fs::path(args.out) / names[m];
    attack_model(args, args.checkpoints[m], out);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  Args args;
  CLI::App app{"Minimal-distance attacks (CW-L2, CW-Linf, DDN, PGD with radius bisection) with per-sample results "
               "(CSV), summaries (JSON) and the per-sample best over all attacks."};
  app.add_option("--model", args.checkpoints, "Checkpoint(s) (.safetensors), comma-separated")
      ->required()
      ->delimiter(',');
  app.add_option("--attack", args.attacks,
                 "cw-l2, cw-linf, ddn, fmn-linf, pgd-bisect-linf, pgd-bisect-l2, or a comma-separated list")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--split", args.split, "train or test")->capture_default_str();
  app.add_option("--data-dir", args.data_dir, "Directory of the data set (default: the data set's own)");
  app.add_option("--n", args.n, "The first N samples of the split")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--out", args.out, "Output directory (<attack>/ and best/ with samples.csv, summary.json)");
  app.add_flag("--resume", args.resume, "Continue the samples.csv files in --out");
  app.add_option("--batch-size", args.batch_size, "Samples attacked together")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* targeted = app.add_flag("--targeted", args.targeted, "Targeted attacks (default: untargeted)");
  app.add_option("--target", args.target, "The target of --targeted: next ((label + 1) mod classes) or random")
      ->capture_default_str()
      ->needs(targeted);
  app.add_option("--seed", args.seed, "Seed of --target random")->capture_default_str();
  app.add_option("--sparse", args.sparse_threshold,
                 "Run conv layers with at least this fraction of zero weights on the sparse path (e.g. 0.9)");
  args.runtime.add_to(app);

  auto* cw = app.add_option_group("cw-l2 and cw-linf", "Unset flags take the preset's value");
  cw->add_option("--preset", args.preset,
                 "paper: cw-l2 9 search steps x 10000 iterations, c0 1e-3, lr 1e-2, restarts; cw-linf 1000 iterations "
                 "per (tau, c), c0 1e-5, lr 1e-3, no cap. fast: cw-l2 5 x 1000, warm start; cw-linf 50 iterations, "
                 "c0 0.1, --max-steps 500")
      ->capture_default_str();
  cw->add_option("--iterations", args.iterations, "Adam iterations per search step (cw-l2) or per (tau, c) (cw-linf)")
      ->check(CLI::PositiveNumber);
  cw->add_option("--kappa", args.kappa, "Confidence margin of both (default 0)")->check(CLI::NonNegativeNumber);
  cw->add_option("--search-steps", args.search_steps, "cw-l2: search steps over c (x10, then bisection)")
      ->check(CLI::PositiveNumber);
  cw->add_option("--lr", args.lr, "cw-l2: Adam learning rate, in tanh space (default 1e-2)")->check(CLI::PositiveNumber);
  cw->add_option("--c0", args.c0, "cw-l2: initial constant c (default 1e-3)")->check(CLI::PositiveNumber);
  cw->add_option("--warm-start", args.warm_start, "cw-l2: keep the perturbation between search steps (true/false)");
  cw->add_option("--abort-early", args.abort_early, "cw-l2: per-sample abort early (true/false)")->capture_default_str();
  cw->add_option("--linf-lr", args.linf_lr, "cw-linf: Adam learning rate, per pixel (default 1e-3)")
      ->check(CLI::PositiveNumber);
  cw->add_option("--linf-c0", args.linf_c0, "cw-linf: initial constant c (paper 1e-5, fast 0.1)")
      ->check(CLI::PositiveNumber);
  cw->add_option("--max-steps", args.max_steps, "cw-linf: most Adam steps per sample in all (0: no cap)")
      ->check(CLI::NonNegativeNumber);
  cw->add_option("--c-max", args.cw_linf.c_max, "cw-linf: largest c (c doubles up to it)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cw->add_option("--tau0", args.cw_linf.tau0, "cw-linf: initial tau")->capture_default_str()->check(CLI::PositiveNumber);
  cw->add_option("--tau-decrease", args.cw_linf.tau_decrease, "cw-linf: tau <- this * min(tau, Linf) when solved")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cw->add_option("--tau-min", args.cw_linf.tau_min, "cw-linf: stop once tau is below this")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  auto* ddn = app.add_option_group("ddn");
  ddn->add_option("--ddn-steps", args.ddn.steps, "ddn: gradient steps")->capture_default_str()->check(CLI::PositiveNumber);
  ddn->add_option("--gamma", args.ddn.gamma, "ddn: norm factor per step, eps *= 1 -+ gamma")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  ddn->add_option("--init-norm", args.ddn.init_norm, "ddn: initial norm eps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  auto* fmn = app.add_option_group("fmn-linf");
  fmn->add_option("--fmn-steps", args.fmn.steps, "fmn-linf: gradient steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  fmn->add_option("--fmn-alpha", args.fmn.alpha_init, "fmn-linf: first step size (annealed to a hundredth of it)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  auto* pgd = app.add_option_group("pgd-bisect-linf and pgd-bisect-l2");
  pgd->add_option("--eps", args.pgd.eps, "pgd-bisect: largest radius (default 1 for Linf, 10 for L2)")
      ->check(CLI::NonNegativeNumber);
  pgd->add_option("--pgd-iterations", args.pgd.iterations, "pgd-bisect: PGD steps per radius")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  pgd->add_option("--bisect-steps", args.bisect_steps, "pgd-bisect: halvings of the radius")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  return oa::experiments::run_cli(app, argc, argv, "run_cw", [&] { return run(args); });
}
