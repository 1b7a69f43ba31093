// run_cw: minimal-distance attacks on the first N samples of a split, per-sample results:
// cw-l2 (Carlini-Wagner L2), and pgd-bisect-linf / pgd-bisect-l2 (PGD with a per-sample
// bisection of the radius: an upper bound on the minimal distance, the cross-check of CW).
//   run_cw --model models/weights/resnet20-fashion-mnist/checkpoint.safetensors --split test --n 100 --out runs/cw
// Only samples the model classifies correctly are attacked. DIR receives samples.csv (one
// row per sample, pandas.read_csv) and summary.json (success rate; mean and median L2 / Linf
// over successes with bootstrap 95% intervals; passes and seconds), rewritten atomically
// after every batch; --resume skips the samples already in samples.csv.
// Untargeted. CW-Linf and DDN are the next steps.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include "attacks/cw_l2.h"
#include "attacks/pgd.h"
#include "experiments/common/cli.h"
#include "experiments/common/datasets.h"
#include "experiments/common/model_io.h"
#include "experiments/common/statistics.h"
#include "framework/autograd/node.h"
#include "framework/io/atomic_file.h"
#include "framework/util/progress_bar.h"
#include "framework/util/runtime.h"

namespace fs = std::filesystem;

namespace {

struct Args {
  std::string checkpoint, attack = "cw-l2", split = "test", out, data_dir;
  std::int64_t n = 100, batch_size = 50;
  oa::attacks::CwL2Options cw{.search_steps = 5, .iterations = 1000, .warm_start = true};
  oa::attacks::PgdOptions pgd{.eps = 0.0, .iterations = 50};  // eps 0: 1 (Linf) or 10 (L2)
  std::int64_t bisect_steps = 10;
  bool resume = false;
  int threads = 2;
};

struct Row {
  std::int64_t index, label;
  bool attacked;  // classified correctly, hence attacked
  oa::attacks::SampleResult r;
};

constexpr const char* kHeader = "index,label,attacked,success,l2,linf,l0,c,forwards,backwards";

std::string to_csv(const std::map<std::int64_t, Row>& rows) {
  std::string csv = std::string(kHeader) + "\n";
  for (const auto& [i, row] : rows)
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", row.index, row.label, int(row.attacked), int(row.r.success),
                       row.r.l2, row.r.linf, row.r.l0, row.r.c, row.r.forwards, row.r.backwards);
  return csv;
}

// The rows of an earlier samples.csv, for --resume.
std::map<std::int64_t, Row> read_csv(const std::string& path) {
  std::map<std::int64_t, Row> rows;
  std::ifstream in(path);
  std::string line;
  OA_CHECK(std::getline(in, line) && line == kHeader, "{}: not a samples.csv of run_cw (header differs)", path);
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string f[10];
    for (auto& field : f) OA_CHECK(std::getline(ss, field, ','), "{}: short row '{}'", path, line);
    Row row{std::stoll(f[0]), std::stoll(f[1]), f[2] == "1", {}};
    row.r = {f[3] == "1", std::stod(f[4]), std::stod(f[5]), std::stod(f[6]), std::stod(f[7]), std::stoll(f[8]),
             std::stoll(f[9])};
    rows[row.index] = row;
  }
  return rows;
}

bool is_pgd(const Args& args) { return args.attack.rfind("pgd-bisect-", 0) == 0; }

nlohmann::json attack_options(const Args& args) {
  if (is_pgd(args))
    return {{"eps_max", args.pgd.eps}, {"iterations", args.pgd.iterations}, {"bisect_steps", args.bisect_steps},
            {"random_start", args.pgd.random_start}};
  return {{"search_steps", args.cw.search_steps}, {"iterations", args.cw.iterations}, {"c0", args.cw.c0},
          {"lr", args.cw.lr},                     {"kappa", args.cw.kappa},          {"warm_start", args.cw.warm_start},
          {"abort_early", args.cw.abort_early}};
}

nlohmann::json summary_json(const Args& args, const std::map<std::int64_t, Row>& rows, double seconds) {
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
  return {{"checkpoint", args.checkpoint},
          {"attack", args.attack},
          {"split", args.split},
          {"samples", rows.size()},
          {"attacked", attacked},
          {"clean_accuracy", rows.empty() ? 0.0 : double(attacked) / double(rows.size())},
          {"success_rate", attacked ? double(successes) / double(attacked) : 0.0},
          {"l2", stats(l2)},
          {"linf", stats(linf)},
          {"forwards_per_sample", attacked ? double(forwards) / double(attacked) : 0.0},
          {"backwards_per_sample", attacked ? double(backwards) / double(attacked) : 0.0},
          {"seconds", seconds},
          {"options", attack_options(args)}};
}

int run(Args args) {
  using namespace oa;
  set_num_threads(args.threads);
  OA_CHECK(args.attack == "cw-l2" || args.attack == "pgd-bisect-linf" || args.attack == "pgd-bisect-l2",
           "--attack must be cw-l2, pgd-bisect-linf or pgd-bisect-l2, got '{}'", args.attack);
  args.pgd.norm = args.attack == "pgd-bisect-l2" ? attacks::Norm::L2 : attacks::Norm::Linf;
  if (args.pgd.eps == 0) args.pgd.eps = args.pgd.norm == attacks::Norm::Linf ? 1.0 : 10.0;
  auto loaded = experiments::load_model(args.checkpoint);
  const auto attack = [&](const Tensor& x, const Tensor& y) {
    return is_pgd(args) ? attacks::pgd_bisect(*loaded.model, x, y, args.pgd, args.bisect_steps)
                        : attacks::cw_l2(*loaded.model, x, y, args.cw);
  };
  // The data set the model was trained on, as its checkpoint says.
  experiments::DataChoice choice{.name = loaded.metadata.value("dataset", std::string("fashion-mnist")),
                                 .dir = args.data_dir,
                                 .labels = loaded.metadata.value("labels", std::string("true")),
                                 .limit = args.n};
  const data::Dataset d = experiments::load_dataset(choice, args.split);
  const fs::path out = args.out, csv_path = out / "samples.csv", summary_path = out / "summary.json";
  std::map<std::int64_t, Row> rows;
  if (!args.out.empty() && fs::exists(csv_path)) {
    OA_CHECK(args.resume, "{} exists: pass --resume to continue it, or choose another --out", csv_path.string());
    rows = read_csv(csv_path.string());
    std::printf("resume: %zu samples already done in %s\n", rows.size(), csv_path.string().c_str());
  }
  std::printf("attack %s on %s: %lld %s samples, options %s\n", args.attack.c_str(), loaded.config.name.c_str(),
              (long long)d.size(), args.split.c_str(), attack_options(args).dump().c_str());
  ProgressBar bar(args.attack, d.size(), "sample");
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t first = 0; first < d.size(); first += args.batch_size) {
    std::vector<std::int64_t> todo;
    for (std::int64_t i = first; i < std::min(d.size(), first + args.batch_size); ++i)
      if (!rows.count(i)) todo.push_back(i);
    if (todo.empty()) continue;
    const Tensor x = data::take_rows(d.images, todo), y = data::take_rows(d.labels, todo);
    // Attack only what the model gets right; the others are recorded as not attacked.
    Tensor logits;
    {
      NoGradGuard no_grad;
      loaded.model->eval();
      logits = (*loaded.model)(x);
    }
    const auto z = logits.to_vector<float>();
    const auto labels = y.to_vector<std::int64_t>();
    std::vector<std::int64_t> correct;
    for (std::size_t k = 0; k < todo.size(); ++k) {
      const auto row = z.begin() + static_cast<std::int64_t>(k) * logits.size(1);
      const bool right = std::max_element(row, row + logits.size(1)) - row == labels[k];
      rows[todo[k]] = Row{todo[k], labels[k], right, {}};
      if (right) correct.push_back(static_cast<std::int64_t>(k));
    }
    if (!correct.empty()) {
      const auto result = attack(data::take_rows(x, correct), data::take_rows(y, correct));
      for (std::size_t k = 0; k < correct.size(); ++k) rows[todo[correct[k]]].r = result.samples[k];
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto s = summary_json(args, rows, seconds);
    if (!args.out.empty()) {
      io::write_file_atomic(csv_path.string(), to_csv(rows));
      io::write_file_atomic(summary_path.string(), s.dump(2) + "\n");
    }
    bar.update(static_cast<std::int64_t>(rows.size()),
               fmt::format("success {:.1f}% median L2 {:.4f}", 100 * s["success_rate"].get<double>(),
                           s["l2"]["median"].get<double>()));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto s = summary_json(args, rows, seconds);
  bar.finish();
  std::printf("%s\n", s.dump(2).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  Args args;
  CLI::App app{"Minimal-distance attacks (CW-L2, PGD with radius bisection) with per-sample results (CSV) and a "
               "summary (JSON)."};
  app.add_option("--model", args.checkpoint, "Checkpoint (.safetensors)")->required();
  app.add_option("--attack", args.attack, "cw-l2, pgd-bisect-linf or pgd-bisect-l2")->capture_default_str();
  app.add_option("--split", args.split, "train or test")->capture_default_str();
  app.add_option("--data-dir", args.data_dir, "Directory of the data set (default: the data set's own)");
  app.add_option("--n", args.n, "The first N samples of the split")->capture_default_str();
  app.add_option("--out", args.out, "Output directory (samples.csv, summary.json)");
  app.add_flag("--resume", args.resume, "Continue the samples.csv in --out");
  app.add_option("--batch-size", args.batch_size, "Samples attacked together")->capture_default_str();
  app.add_option("--search-steps", args.cw.search_steps, "cw-l2: binary-search steps over c")->capture_default_str();
  app.add_option("--iterations", args.cw.iterations, "cw-l2: Adam iterations per search step")->capture_default_str();
  app.add_option("--lr", args.cw.lr, "Adam learning rate")->capture_default_str();
  app.add_option("--c0", args.cw.c0, "Initial constant c")->capture_default_str();
  app.add_option("--kappa", args.cw.kappa, "Confidence margin")->capture_default_str();
  app.add_option("--warm-start", args.cw.warm_start, "Keep the perturbation between search steps (true/false)")
      ->capture_default_str();
  app.add_option("--abort-early", args.cw.abort_early, "Per-sample abort early (true/false)")->capture_default_str();
  app.add_option("--eps", args.pgd.eps, "pgd-bisect: largest radius (default 1 for Linf, 10 for L2)");
  app.add_option("--pgd-iterations", args.pgd.iterations, "pgd-bisect: PGD steps per radius")->capture_default_str();
  app.add_option("--bisect-steps", args.bisect_steps, "pgd-bisect: halvings of the radius")->capture_default_str();
  app.add_option("--threads", args.threads, "CPU threads")->capture_default_str();
  return oa::experiments::run_cli(app, argc, argv, "run_cw", [&] { return run(args); });
}
