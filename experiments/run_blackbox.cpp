// run_blackbox: black-box attacks on the first N samples of a split (or those listed by
// --indices FILE: one index a line, or a .npy of int64), per-sample results.
//   run_blackbox --model models/weights/resnet20-fashion-mnist/checkpoint.safetensors
//                --attack square-linf,rays-linf --eps 0.05 --queries 1000 --n 100 --out runs/bb
// The attacks (--attack takes one or a comma-separated list) see the model only through a
// query model (attacks/query_model.h) with a budget of --queries per sample:
//   square-linf, square-l2  Square Attack, scores (attacks/square.h)
//   rays-linf               RayS, labels only (attacks/rays.h); at eps 0 it spends the whole
//                           budget on its minimal Linf estimate, the returned example's linf
//   noise-linf, noise-l2    random noise of norm eps, one label query a draw (attacks/noise.h)
//   transfer-linf,          PGD at eps on the --surrogate model (white-box, the attacker's own),
//   transfer-l2             sent to the target, then a line search of --line-search label
//                           queries along it (attacks/transfer.h)
// Each attack runs at every radius of --eps (a comma-separated list). Only samples the model
// classifies correctly are attacked (untargeted). Every reported example is re-checked by a
// forward pass of the model itself (attacks::verify), outside the query model: not a query.
// --bisect K (square and noise) turns the fixed-radius attack into a minimal-distance estimate
// under the budget: per sample, the attack at --eps E, then K bisection steps of the radius
// on [0, E] (a success at r makes r the new upper end, a failure the new lower end), each step
// a fresh attack with a fresh budget of --queries. The returned example is that of the
// smallest successful radius; queries counts the queries of all steps, at most (K + 1) Q.
// Under --out, per attack and radius:
//   <attack>/eps-<E>/samples.csv   one row per sample: index, label, attacked, eps, success,
//                                  l2, linf, l0, queries. eps: the radius (with --bisect the
//                                  smallest successful one, NaN on failure); distances of the
//                                  verified example, NaN on failure or not attacked; queries:
//                                  to the first success, or all spent on a failure
//   <attack>/eps-<E>/summary.json  success rate with its Wilson 95% interval; mean and median
//                                  queries over successes with bootstrap 95% intervals;
//                                  queries per attacked sample; mean and median L2 / Linf over
//                                  successes; seconds; the options
// Files are rewritten atomically after every batch; --resume skips the samples already in
// each samples.csv and refuses to continue a run made with other options. Under mpirun -np K
// the batches go round-robin to the K ranks (each rewrites its own samples.rank-R.csv after
// every batch) and rank 0 writes the files of one process at the end: the same rows.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "attacks/noise.h"
#include "attacks/rays.h"
#include "attacks/square.h"
#include "attacks/transfer.h"
#include "experiments/common/cli.h"
#include "experiments/common/model_io.h"
#include "experiments/common/record.h"
#include "experiments/common/sample_runs.h"
#include "experiments/common/statistics.h"
#include "framework/util/progress_bar.h"
#include "framework/util/runtime.h"

namespace fs = std::filesystem;
using oa::attacks::SampleResult;
using oa::experiments::Flag;

namespace {

const std::vector<std::string> kAttackNames = {"square-linf", "square-l2",     "rays-linf",  "noise-linf",
                                               "noise-l2",    "transfer-linf", "transfer-l2"};

// The options of every attack, recorded in each summary.json ("options", which --resume
// compares) and set by their flags (cli.h).
struct BlackBoxConfig {
  std::int64_t queries = 1000;
  std::int64_t bisect = 0;
  double p_init = 0.0;
  double tolerance = 1e-3;
  std::int64_t transfer_iterations = 40, line_search = 10;
  std::uint64_t seed = 0;
  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("queries", c.queries,
          Flag{"--queries", "Query budget per sample (per bisection step with --bisect)", oa::experiments::Positive});
    visit("bisect", c.bisect,
          Flag{"--bisect", "square, noise: K bisection steps of the radius below --eps (0: the radius only)",
               oa::experiments::NonNegative});
    visit("p_init", c.p_init,
          Flag{"--p-init", "square: first fraction of pixels changed (0: the paper's 0.05 Linf, 0.1 L2)",
               CLI::Range(0.0, 1.0)});
    visit("tolerance", c.tolerance,
          Flag{"--rays-tolerance", "rays-linf: binary-search tolerance (authors' units)", oa::experiments::Positive});
    visit("transfer_iterations", c.transfer_iterations,
          Flag{"--transfer-iterations", "transfer: PGD iterations on the surrogate", oa::experiments::Positive});
    visit("line_search", c.line_search,
          Flag{"--line-search", "transfer: bisection steps along the example (one query each)",
               oa::experiments::NonNegative});
    visit("seed", c.seed, Flag{"--seed", "Seed of square, noise and transfer's random start"});
  }
};

struct Args {
  std::string checkpoint, split = "test", out, data_dir, indices, surrogate, arch;
  std::vector<std::string> attacks{"square-linf"};
  std::vector<double> eps{0.05};
  std::int64_t n = 100, batch_size = 50;
  bool resume = false;
  BlackBoxConfig config;
  oa::experiments::RuntimeOptions runtime;
};

oa::attacks::Norm norm_of(const std::string& attack) {
  return attack.ends_with("-l2") ? oa::attacks::Norm::L2 : oa::attacks::Norm::Linf;
}

bool bisects(const std::string& attack) { return !attack.starts_with("rays"); }

// The models of a run: the target, and the attacker's surrogate where a transfer attack runs.
struct Models {
  oa::nn::Module& target;
  oa::nn::Module* surrogate = nullptr;
};

// `attack` at radius eps on the samples x (labels y, on the model's device), through a fresh
// query model with the budget of c; the examples verified with the target itself.
std::vector<SampleResult> attack_at(const std::string& attack, double eps, const BlackBoxConfig& c,
                                    const Models& models, const oa::Tensor& x, const oa::Tensor& y) {
  oa::nn::Module& model = models.target;
  using namespace oa::attacks;
  const std::int64_t n = x.size(0);
  AttackOutput out;
  if (attack.starts_with("square")) {
    ScoreQueryModel queries(model, n, c.queries);
    out = square(queries, x, y, {.norm = norm_of(attack), .eps = eps, .p_init = c.p_init, .seed = c.seed});
  } else if (attack.starts_with("transfer")) {
    LabelQueryModel queries(model, n, c.queries);
    out = transfer(queries, *models.surrogate, x, y,
                   {.norm = norm_of(attack), .eps = eps, .iterations = c.transfer_iterations,
                    .line_search = c.line_search, .seed = c.seed});
  } else if (attack == "rays-linf") {
    LabelQueryModel queries(model, n, c.queries);
    out = rays(queries, x, y, {.eps = eps, .tolerance = c.tolerance});
  } else {
    LabelQueryModel queries(model, n, c.queries);
    out = random_noise(queries, x, y, {.norm = norm_of(attack), .eps = eps, .draws = c.queries, .seed = c.seed});
  }
  verify(model, x, y, /*targeted=*/false, out);
  return out.samples;
}

// attack_at for each sample k of x at its own radius radius_of[k] (samples absent from the
// map are not attacked); the samples that share a radius run together.
std::map<std::int64_t, SampleResult> attack_at_radii(const std::string& attack,
                                                     const std::map<std::int64_t, double>& radius_of,
                                                     const BlackBoxConfig& c, const Models& models,
                                                     oa::Device device, const oa::Tensor& x, const oa::Tensor& y) {
  std::map<double, std::vector<std::int64_t>> samples_at;
  for (const auto& [k, radius] : radius_of) samples_at[radius].push_back(k);
  std::map<std::int64_t, SampleResult> results;
  for (const auto& [radius, samples] : samples_at) {
    const auto found = attack_at(attack, radius, c, models, oa::data::take_rows(x, samples).to(device),
                                 oa::data::take_rows(y, samples).to(device));
    for (std::size_t k = 0; k < samples.size(); ++k) results[samples[k]] = found[k];
  }
  return results;
}

// A sample's result and the radius it was found at (NaN where it failed).
struct Found {
  SampleResult r;
  double radius = SampleResult::kNaN;
};

// `attack` at radius eps on the samples x (host), then with --bisect K steps of bisection of
// each successful sample's radius on [0, eps]; queries are those of all steps.
std::vector<Found> run_attack(const std::string& attack, double eps, const BlackBoxConfig& c, const Models& models,
                              oa::Device device, const oa::Tensor& x, const oa::Tensor& y) {
  const std::int64_t n = x.size(0);
  std::map<std::int64_t, double> radius_of;
  for (std::int64_t k = 0; k < n; ++k) radius_of[k] = eps;
  std::vector<Found> found(n);
  std::vector<std::int64_t> spent(n, 0);
  std::vector<double> low(n, 0.0);  // the largest radius known to fail
  const std::int64_t steps = bisects(attack) ? c.bisect : 0;
  for (std::int64_t step = 0; step <= steps && !radius_of.empty(); ++step) {
    for (const auto& [k, r] : attack_at_radii(attack, radius_of, c, models, device, x, y)) {
      spent[k] += r.queries;
      if (r.success) {
        found[k] = {r, radius_of[k]};
      } else {
        low[k] = radius_of[k];
      }
    }
    // The next radius: halfway between the failing and the smallest successful one.
    radius_of.clear();
    for (std::int64_t k = 0; k < n; ++k)
      if (found[k].r.success) radius_of[k] = (low[k] + found[k].radius) / 2;
  }
  for (std::int64_t k = 0; k < n; ++k) found[k].r.queries = spent[k];
  return found;
}

// One line of <attack>/eps-<E>/samples.csv.
struct BlackBoxRow {
  std::int64_t index = 0, label = 0;
  bool attacked = false;            // classified correctly, hence attacked
  double eps = SampleResult::kNaN;  // the radius (--bisect: the smallest successful one)
  SampleResult r;                   // NaN distances while not attacked
  template <class Self, class Visit>
  static void fields(Self& row, Visit&& visit) {
    visit("index", row.index);
    visit("label", row.label);
    visit("attacked", row.attacked);
    visit("eps", row.eps);
    SampleResult::outcome_fields(row.r, visit);
    visit("queries", row.r.queries);
  }
};
using Rows = oa::experiments::RowsByIndex<BlackBoxRow>;

// {mean, median, mean_ci95, median_ci95} of the queries of the successes.
nlohmann::json queries_json(const std::vector<double>& queries) {
  const auto s = oa::experiments::summarize(queries);
  return {{"mean", s.mean},
          {"median", s.median},
          {"mean_ci95", {s.mean_ci_low, s.mean_ci_high}},
          {"median_ci95", {s.median_ci_low, s.median_ci_high}}};
}

// One attack at one radius: its rows, where they go, and the seconds spent on it (in a run of
// several ranks, each attacks its share: sample_runs.h).
struct BlackBoxRun : oa::experiments::ShardedRun<BlackBoxRow> {
  std::string attack;
  double eps = 0;
  nlohmann::json identity;

  nlohmann::json summary(const BlackBoxConfig& c) const {
    std::int64_t attacked = 0, all_queries = 0;
    std::vector<double> queries, l2, linf, radii;  // of the successes
    for (const auto& [index, row] : rows) {
      if (!row.attacked) continue;
      ++attacked;
      all_queries += row.r.queries;
      if (!row.r.success) continue;
      queries.push_back(static_cast<double>(row.r.queries));
      l2.push_back(row.r.l2);
      linf.push_back(row.r.linf);
      radii.push_back(row.eps);
    }
    const auto successes = static_cast<std::int64_t>(queries.size());
    const auto rate = oa::experiments::wilson_interval(successes, attacked);
    nlohmann::json s = identity;
    s.update({{"samples", rows.size()},
              {"attacked", attacked},
              {"clean_accuracy", rows.empty() ? 0.0 : double(attacked) / double(rows.size())},
              {"successes", successes},
              {"success_rate", rate.estimate},
              {"success_rate_ci95", {rate.low, rate.high}},
              {"queries", queries_json(queries)},
              {"queries_per_attacked_sample", attacked ? double(all_queries) / double(attacked) : 0.0},
              {"l2", oa::experiments::mean_median_json(l2)},
              {"linf", oa::experiments::mean_median_json(linf)},
              {"seconds", total_seconds()},
              {"options", oa::experiments::to_json(c)}});
    if (c.bisect > 0 && bisects(attack)) s["eps_found"] = oa::experiments::mean_median_json(radii);
    return s;
  }
};

// <attack>/eps-<E>: the radius as its shortest text that reads back the same.
fs::path run_dir(const Args& a, const std::string& attack, double eps) {
  if (a.out.empty()) return {};
  return fs::path(a.out) / attack / ("eps-" + oa::experiments::csv_field(eps));
}

void print_table(const std::vector<BlackBoxRun>& runs, const BlackBoxConfig& c) {
  std::printf("%-12s %8s %8s %15s %10s %10s %11s %10s %9s\n", "attack", "eps", "success", "95% interval",
              "median q", "mean Linf", "median Linf", "mean L2", "seconds");
  for (const auto& run : runs) {
    const auto s = run.summary(c);
    std::printf("%-12s %8.4g %7.1f%% [%5.1f%%,%5.1f%%] %10.0f %10.4f %11.4f %10.4f %9.1f\n", run.attack.c_str(),
                run.eps, 100 * s["success_rate"].get<double>(), 100 * s["success_rate_ci95"][0].get<double>(),
                100 * s["success_rate_ci95"][1].get<double>(), s["queries"]["median"].get<double>(),
                s["linf"]["mean"].get<double>(), s["linf"]["median"].get<double>(), s["l2"]["mean"].get<double>(),
                run.total_seconds());
  }
}

int run(const Args& a) {
  using namespace oa;
  std::set<std::string> seen;
  for (const auto& name : a.attacks) {
    OA_CHECK(std::find(kAttackNames.begin(), kAttackNames.end(), name) != kAttackNames.end(),
             "--attack: unknown attack '{}' (known: {})", name, fmt::join(kAttackNames, ", "));
    OA_CHECK(seen.insert(name).second, "--attack: '{}' is listed twice", name);
  }
  std::set<double> radii;
  for (const double eps : a.eps) {
    OA_CHECK(std::isfinite(eps) && eps >= 0, "--eps: {} is not a radius (finite, >= 0)", eps);
    OA_CHECK(radii.insert(eps).second, "--eps: {} is listed twice", eps);
    for (const auto& name : a.attacks)
      OA_CHECK(eps > 0 || name == "rays-linf", "--eps 0 is for rays-linf only (its minimal distance); {} needs eps > 0",
               name);
  }
  auto loaded = experiments::load_frozen_model(a.checkpoint, a.arch);
  const Device device = a.runtime.apply();
  loaded.model->to(device);
  const bool transfers = std::any_of(a.attacks.begin(), a.attacks.end(),
                                     [](const std::string& name) { return name.starts_with("transfer"); });
  OA_CHECK(transfers == !a.surrogate.empty(), "{}", transfers ? "--attack transfer-*: name the attacker's model with --surrogate CKPT"
                                                               : "--surrogate is for the transfer attacks only");
  experiments::LoadedModel surrogate;
  if (transfers) {
    surrogate = experiments::load_frozen_model(a.surrogate);
    OA_CHECK(surrogate.config.classes == loaded.config.classes, "--surrogate {}: {} classes, the target has {}",
             a.surrogate, surrogate.config.classes, loaded.config.classes);
    surrogate.model->to(device);
  }
  const Models models{*loaded.model, surrogate.model.get()};
  const auto data = experiments::load_attack_data(loaded.metadata, a.data_dir, a.split, a.n, a.indices);
  std::vector<BlackBoxRun> runs;
  for (const auto& name : a.attacks)
    for (const double eps : a.eps) {
      BlackBoxRun run;
      run.dir = run_dir(a, name, eps);
      run.attack = name;
      run.eps = eps;
      run.identity = {{"checkpoint", a.checkpoint},
                      {"attack", name},
                      {"eps", eps},
                      {"split", a.split},
                      {"surrogate", name.starts_with("transfer") ? nlohmann::json(a.surrogate) : nlohmann::json(nullptr)},
                      {"indices", a.indices.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.indices)}};
      nlohmann::json expected = run.identity;
      expected["options"] = experiments::to_json(a.config);
      run.resume(expected, a.resume);
      runs.push_back(std::move(run));
    }
  experiments::consolidate_after_resume(runs, [&](const BlackBoxRun& run) { run.consolidate(run.summary(a.config)); });
  const bool several_ranks = dist::world_size() > 1;
  const auto samples = experiments::samples_of_my_batches(data.samples, a.batch_size);
  std::printf("%s (%s): %zu %s samples on %d rank(s), %lld queries per sample, options %s\n", a.checkpoint.c_str(),
              loaded.config.name.c_str(), data.samples.size(), a.split.c_str(), dist::world_size(),
              (long long)a.config.queries, experiments::to_json(a.config).dump().c_str());
  ProgressBar bar(fmt::format("{}", fmt::join(a.attacks, ",")), static_cast<std::int64_t>(samples.size()), "sample");
  std::int64_t done = 0;  // samples done by every run
  const auto pending = [&](std::int64_t i) {
    const bool todo = std::any_of(runs.begin(), runs.end(), [&](const BlackBoxRun& run) { return !run.rows.count(i); });
    done += !todo;
    return todo;
  };
  experiments::for_each_clean_batch(*loaded.model, device, data.d, samples, a.batch_size, pending,
                                    [&](const experiments::CleanBatch& batch) {
    std::string status;
    for (auto& run : runs) {
      std::vector<std::int64_t> attacked;  // positions in the batch
      for (std::size_t k = 0; k < batch.indices.size(); ++k) {
        if (run.rows.count(batch.indices[k])) continue;
        run.rows[batch.indices[k]] = {batch.indices[k], batch.labels[k], batch.correct[k], run.eps, {}};
        if (batch.correct[k]) attacked.push_back(static_cast<std::int64_t>(k));
      }
      if (!attacked.empty()) {
        const auto start = std::chrono::steady_clock::now();
        const auto found = run_attack(run.attack, run.eps, a.config, models, device,
                                      data::take_rows(batch.x, attacked), data::take_rows(batch.y, attacked));
        run.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        for (std::size_t k = 0; k < attacked.size(); ++k) {
          BlackBoxRow& row = run.rows[batch.indices[attacked[k]]];
          row.r = found[k].r;
          if (a.config.bisect > 0 && bisects(run.attack)) row.eps = found[k].radius;
        }
      }
      run.mark_made(batch.indices);
      const auto s = run.summary(a.config);
      run.write(s);
      status += fmt::format("{}@{} {:.0f}% ", run.attack, run.eps, 100 * s["success_rate"].get<double>());
    }
    done += static_cast<std::int64_t>(batch.indices.size());
    bar.update(done, status);  // with several ranks: of this rank's share
  });
  bar.finish();
  for (auto& run : runs) {
    if (several_ranks) run.gather();
    run.consolidate(run.summary(a.config));  // also folds in what an interrupted run of several ranks left
  }
  print_table(runs, a.config);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  Args args;
  CLI::App app{"Black-box attacks (Square, RayS, random noise) through a query model with a per-sample budget, "
               "with per-sample results (CSV) and summaries (JSON) per attack and radius."};
  app.add_option("--model", args.checkpoint, "Checkpoint (.safetensors)")->required();
  app.add_option("--attack", args.attacks,
                 "square-linf, square-l2, rays-linf, noise-linf, noise-l2, transfer-linf, transfer-l2, or a comma-separated list")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--eps", args.eps, "Radius or comma-separated radii (0: rays-linf's minimal distance)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--arch", args.arch, std::string(oa::experiments::kArchHelp) + " (of --model, not --surrogate)");
  app.add_option("--surrogate", args.surrogate, "transfer-*: the attacker's own model, attacked white-box");
  app.add_option("--split", args.split, "train or test")->capture_default_str();
  app.add_option("--data-dir", args.data_dir, "Directory of the data set (default: the data set's own)");
  oa::experiments::add_sample_flags(app, args.n, args.indices);
  oa::experiments::add_out_and_resume_flags(app, args.out, args.resume,
                                            "Output directory (<attack>/eps-<E>/ with samples.csv, summary.json)");
  app.add_option("--batch-size", args.batch_size, "Samples attacked together")
      ->capture_default_str()
      ->check(oa::experiments::Positive);
  oa::experiments::add_flags(app, args.config);
  args.runtime.add_to(app);
  return oa::experiments::run_cli(app, argc, argv, "run_blackbox", [&] { return run(args); });
}
