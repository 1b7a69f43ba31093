// run_cw: minimal-distance attacks on the first N samples of a split (or those listed by
// --indices FILE: one index a line, or a .npy of int64), per-sample results.
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
//                           backwards; failed or not attacked: NaN distances, never 0; c
//                           (the CW constant) NaN for the other attacks
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
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "attacks/cw_l2.h"
#include "attacks/cw_linf.h"
#include "attacks/ddn.h"
#include "attacks/fmn.h"
#include "attacks/pgd.h"
#include "experiments/common/cli.h"
#include "experiments/common/model_io.h"
#include "experiments/common/record.h"
#include "experiments/common/sample_runs.h"
#include "experiments/common/training.h"
#include "framework/dist/dist.h"
#include "framework/prune/to_sparse.h"
#include "framework/util/progress_bar.h"
#include "framework/util/runtime.h"

namespace fs = std::filesystem;
using oa::attacks::AttackOutput;
using oa::experiments::Flag;
using oa::experiments::NonNegative;
using oa::experiments::Positive;

namespace {

const std::vector<std::string> kAttackNames = {"cw-l2",    "cw-linf",         "ddn",
                                               "fmn-linf", "pgd-bisect-linf", "pgd-bisect-l2"};

// ---- the attacks' options, each declared once: summary.json records them ("options", which
// --resume compares) and the command line sets them ---------------------------------------
// fields(visit) names each option as summary.json records it, with its flag (cli.h) where the
// command line sets it; to_json (record.h) writes them, add_flags registers the flags.

// The options both CW attacks have, set by one flag each (their default depends on --preset).
template <class CwOptions, class Visit>
void cw_shared_fields(CwOptions& o, Visit& visit) {
  visit("iterations", o.iterations,
        Flag{"--iterations", "Adam iterations per search step (cw-l2) or per (tau, c) (cw-linf)", Positive,
             false});
  visit("kappa", o.kappa, Flag{"--kappa", "Confidence margin of both (default 0)", NonNegative, false});
}

// The structs' defaults are the paper's settings (9 search steps of 10000 iterations, restarts);
// --preset fast changes them (resolve_preset).
struct CwL2Config {
  oa::attacks::CwL2Options o;
  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    cw_shared_fields(c.o, visit);
    visit("search_steps", c.o.search_steps,
          Flag{"--search-steps", "cw-l2: search steps over c (x10, then bisection)", Positive, false});
    visit("lr", c.o.lr,
          Flag{"--lr", "cw-l2: Adam learning rate, in tanh space (default 1e-2)", Positive, false});
    visit("c0", c.o.c0, Flag{"--c0", "cw-l2: initial constant c (default 1e-3)", Positive, false});
    visit("warm_start", c.o.warm_start,
          Flag{"--warm-start", "cw-l2: keep the perturbation between search steps (true/false)", std::nullopt, false});
    visit("abort_early", c.o.abort_early, Flag{"--abort-early", "cw-l2: per-sample abort early (true/false)"});
  }
};

// The paper's settings (1000 iterations per (tau, c), c0 1e-5, no cap), but for lr.
struct CwLinfConfig {
  oa::attacks::CwLinfOptions o;
  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    cw_shared_fields(c.o, visit);
    visit("lr", c.o.lr,
          Flag{"--linf-lr", "cw-linf: Adam learning rate, per pixel (default 1e-3)", Positive, false});
    visit("c0", c.o.c0,
          Flag{"--linf-c0", "cw-linf: initial constant c (paper 1e-5, fast 0.1)", Positive, false});
    visit("max_steps", c.o.max_steps,
          Flag{"--max-steps", "cw-linf: most Adam steps per sample in all (0: no cap)", NonNegative, false});
    visit("c_max", c.o.c_max, Flag{"--c-max", "cw-linf: largest c (c doubles up to it)", Positive});
    visit("tau0", c.o.tau0, Flag{"--tau0", "cw-linf: initial tau", Positive});
    visit("tau_decrease", c.o.tau_decrease,
          Flag{"--tau-decrease", "cw-linf: tau <- this * min(tau, Linf) when solved", CLI::Range(0.0, 1.0)});
    visit("tau_min", c.o.tau_min, Flag{"--tau-min", "cw-linf: stop once tau is below this", NonNegative});
  }
};

struct DdnConfig {
  oa::attacks::DdnOptions o;
  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("steps", c.o.steps, Flag{"--ddn-steps", "ddn: gradient steps", Positive});
    visit("gamma", c.o.gamma, Flag{"--gamma", "ddn: norm factor per step, eps *= 1 -+ gamma", CLI::Range(0.0, 1.0)});
    visit("init_norm", c.o.init_norm, Flag{"--init-norm", "ddn: initial norm eps", Positive});
    visit("alpha_max", c.o.alpha_max);
    visit("alpha_min", c.o.alpha_min);
  }
};

struct FmnConfig {
  oa::attacks::FmnOptions o;
  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("steps", c.o.steps, Flag{"--fmn-steps", "fmn-linf: gradient steps", Positive});
    visit("alpha_init", c.o.alpha_init,
          Flag{"--fmn-alpha", "fmn-linf: first step size (annealed to a hundredth of it)", Positive});
    visit("gamma_init", c.o.gamma_init);
    visit("gamma_final", c.o.gamma_final);
  }
};

// pgd-bisect-linf and pgd-bisect-l2; eps_max 0 stands for 1 (Linf) or 10 (L2).
struct PgdBisectConfig {
  oa::attacks::PgdOptions o{.eps = 0.0, .iterations = 50};
  std::int64_t bisect_steps = 10;
  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("eps_max", c.o.eps,
          Flag{"--eps", "pgd-bisect: largest radius (default 1 for Linf, 10 for L2)", NonNegative, false});
    visit("iterations", c.o.iterations,
          Flag{"--pgd-iterations", "pgd-bisect: PGD steps per radius", Positive});
    visit("bisect_steps", c.bisect_steps,
          Flag{"--bisect-steps", "pgd-bisect: halvings of the radius", Positive});
    visit("random_start", c.o.random_start);
  }
};

struct Args {
  std::vector<std::string> checkpoints, attacks{"cw-l2"};
  std::string split = "test", out, data_dir, preset = "fast", target = "next", indices, arch;
  std::int64_t n = 100, batch_size = 50;
  bool targeted = false, resume = false;
  std::uint64_t seed = 0;
  CwL2Config cw_l2;
  CwLinfConfig cw_linf;
  DdnConfig ddn;
  FmnConfig fmn;
  PgdBisectConfig pgd;
  double sparse_threshold = 2.0;  // above 1: the dense path everywhere
  oa::experiments::RuntimeOptions runtime;
};

// After parsing: the CW attacks' options are the preset's, then every flag given (the flags are
// bound to the paper's defaults, and --iterations and --kappa to cw-l2's fields only).
void resolve_preset(const CLI::App& app, Args& a) {
  if (a.preset == "fast") {
    // cw-l2: 5 search steps of 1000 iterations, warm-started; cw-linf: 50 iterations per
    // (tau, c) from c0 0.1 (the paper's c0 spends 20 doublings), 500 steps in all.
    a.cw_l2.o = {.search_steps = 5, .iterations = 1000, .warm_start = true};
    a.cw_linf.o = {.iterations = 50, .c0 = 0.1, .max_steps = 500};
  }
  oa::experiments::take_given_flags(app, a.cw_l2);
  oa::experiments::take_given_flags(app, a.cw_linf);
}

// ---- the attacks ----------------------------------------------------------------------------

// An attack ready to run: its name, its options as summary.json records them, and the call.
struct Attack {
  std::string name;
  nlohmann::json options;
  std::function<AttackOutput(oa::nn::Module&, const oa::Tensor&, const oa::Tensor&)> run;
};

// `name` is one of kAttackNames.
Attack make_attack(const std::string& name, const Args& a) {
  using namespace oa::attacks;
  using oa::experiments::to_json;
  if (name == "cw-l2") {
    CwL2Options o = a.cw_l2.o;
    o.targeted = a.targeted;
    return {name, to_json(a.cw_l2),
            [o](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) { return cw_l2(m, x, y, o); }};
  }
  if (name == "cw-linf") {
    CwLinfOptions o = a.cw_linf.o;
    o.targeted = a.targeted;
    return {name, to_json(a.cw_linf),
            [o](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) { return cw_linf(m, x, y, o); }};
  }
  if (name == "ddn") {
    DdnOptions o = a.ddn.o;
    o.targeted = a.targeted;
    return {name, to_json(a.ddn),
            [o](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) { return ddn(m, x, y, o); }};
  }
  if (name == "fmn-linf") {
    FmnOptions o = a.fmn.o;
    o.targeted = a.targeted;
    return {name, to_json(a.fmn),
            [o](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) { return fmn_linf(m, x, y, o); }};
  }
  PgdBisectConfig c = a.pgd;
  c.o.norm = name == "pgd-bisect-l2" ? Norm::L2 : Norm::Linf;
  if (c.o.eps == 0) c.o.eps = c.o.norm == Norm::Linf ? 1.0 : 10.0;
  c.o.targeted = a.targeted;
  return {name, to_json(c), [c](oa::nn::Module& m, const oa::Tensor& x, const oa::Tensor& y) {
            return pgd_bisect(m, x, y, c.o, c.bisect_steps);
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

// One line of <attack>/samples.csv: the sample, then the attack's result (its columns in
// SampleResult::fields).
struct Row {
  std::int64_t index = 0, label = 0, target = -1;  // target: -1 when untargeted
  bool attacked = false;                           // classified correctly, hence attacked
  oa::attacks::SampleResult r;                     // NaN distances while not attacked
  template <class Self, class Visit>
  static void fields(Self& row, Visit&& visit) {
    visit("index", row.index);
    visit("label", row.label);
    visit("target", row.target);
    visit("attacked", row.attacked);
    oa::attacks::SampleResult::fields(row.r, visit);
  }
};
using Rows = oa::experiments::RowsByIndex<Row>;

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
  const auto per_attacked = [&](std::int64_t count) { return attacked ? double(count) / double(attacked) : 0.0; };
  return {{"samples", rows.size()},
          {"attacked", attacked},
          {"clean_accuracy", rows.empty() ? 0.0 : double(attacked) / double(rows.size())},
          {"success_rate", per_attacked(successes)},
          {"l2", oa::experiments::mean_median_json(l2)},
          {"linf", oa::experiments::mean_median_json(linf)},
          {"forwards_per_sample", per_attacked(forwards)},
          {"backwards_per_sample", per_attacked(backwards)}};
}

// ---- one model ----------------------------------------------------------------------------

// What identifies a run, in every summary.json: --resume continues only a run with the same.
nlohmann::json run_identity(const Args& a, const std::string& checkpoint, const std::string& attack) {
  nlohmann::json identity = {
      {"checkpoint", checkpoint},
      {"attack", attack},
      {"split", a.split},
      {"targeted", a.targeted},
      {"target", a.targeted ? nlohmann::json(a.target) : nlohmann::json(nullptr)},
      {"seed", a.targeted && a.target == "random" ? nlohmann::json(a.seed) : nlohmann::json(nullptr)}};
  if (!a.indices.empty()) identity["indices"] = a.indices;  // absent without --indices, as before it existed
  return identity;
}

// One attack on one model: its rows, where they go, and the seconds spent on it (in a run of
// several ranks, each attacks its share: sample_runs.h).
struct AttackRun : oa::experiments::ShardedRun<Row> {
  Attack attack;
  nlohmann::json identity;

  nlohmann::json summary() const {
    nlohmann::json s = identity;
    s.update(outcome_json(rows));
    s["seconds"] = total_seconds();
    s["options"] = attack.options;
    return s;
  }
  // --resume: an earlier run with the same identity and options.
  void resume(bool allowed) {
    nlohmann::json expected = identity;
    expected["options"] = attack.options;
    ShardedRun::resume(expected, allowed);
  }
};

// best/: per sample (done by every attack), the smallest L2 and the smallest Linf over the
// successful examples of all attacks, which attack found each, and the passes of all attacks.
struct Best {
  Rows rows;  // r.l2 and r.linf are the minima; l0 and c are NaN
  std::map<std::int64_t, std::string> l2_by, linf_by;
};

// One line of best/samples.csv.
struct BestRow {
  Row row;
  std::string l2_attack, linf_attack;  // who found the smallest L2 and Linf; empty if no attack did
  template <class Self, class Visit>
  static void fields(Self& b, Visit&& visit) {
    visit("index", b.row.index);
    visit("label", b.row.label);
    visit("target", b.row.target);
    visit("attacked", b.row.attacked);
    visit("success", b.row.r.success);
    visit("l2", b.row.r.l2);
    visit("l2_attack", b.l2_attack);
    visit("linf", b.row.r.linf);
    visit("linf_attack", b.linf_attack);
    visit("forwards", b.row.r.forwards);
    visit("backwards", b.row.r.backwards);
  }
};

Best best_of(const std::vector<AttackRun>& runs) {
  Best best;
  for (const auto& [index, first] : runs.front().rows) {
    Row row{first.index, first.label, first.target, first.attacked, {}};
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
  std::string csv = oa::experiments::csv_header<BestRow>();
  std::map<std::string, std::int64_t> l2_wins, linf_wins;
  for (const auto& [i, row] : best.rows) {
    csv += oa::experiments::csv_line(BestRow{row, best.l2_by.at(i), best.linf_by.at(i)});
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
    seconds += run.total_seconds();
  }
  s["attacks"] = names;
  s["seconds"] = seconds;
  s["l2_found_by"] = l2_wins;
  s["linf_found_by"] = linf_wins;
  if (!dir.empty()) oa::experiments::write_run_files(dir, csv, s);
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
    line(run.attack.name, run.summary(), run.total_seconds());
    seconds += run.total_seconds();
  }
  if (runs.size() > 1) line("best", outcome_json(best_of(runs).rows), seconds);
}

void attack_model(const Args& args, const std::string& checkpoint, const fs::path& out) {
  using namespace oa;
  auto loaded = experiments::load_frozen_model(checkpoint, args.arch);
  const Device device = args.runtime.apply();
  loaded.model->to(device);
  // Pruned convs swapped for sparse ones: the same function, fewer FLOPs (prune/to_sparse.h).
  if (args.sparse_threshold <= 1.0) {
    const std::size_t sparse_layers = prune::to_sparse(*loaded.model, args.sparse_threshold);
    std::printf("sparse path: %zu conv layers with at least %g zeros\n", sparse_layers, args.sparse_threshold);
  }
  const auto data = experiments::load_attack_data(loaded.metadata, args.data_dir, args.split, args.n, args.indices);
  const bool several_ranks = dist::world_size() > 1;
  const auto samples = experiments::samples_of_my_batches(data.samples, args.batch_size);
  std::vector<AttackRun> runs;
  for (const auto& name : args.attacks) {
    AttackRun run;
    run.dir = out.empty() ? fs::path() : out / name;
    run.attack = make_attack(name, args);
    run.identity = run_identity(args, checkpoint, name);
    run.resume(args.resume);
    std::printf("%s on %s (%s): %lld %s samples on %d rank(s), options %s\n", name.c_str(), checkpoint.c_str(),
                loaded.config.name.c_str(), (long long)data.samples.size(), args.split.c_str(), dist::world_size(),
                run.attack.options.dump().c_str());
    runs.push_back(std::move(run));
  }
  experiments::consolidate_after_resume(runs, [](const AttackRun& run) { run.consolidate(run.summary()); });
  const fs::path best_dir = out.empty() ? fs::path() : out / "best";
  ProgressBar bar(fmt::format("{}", fmt::join(args.attacks, ",")), static_cast<std::int64_t>(samples.size()),
                  "sample");
  // A sample is pending until every attack has done it.
  const auto pending = [&](std::int64_t i) {
    return std::any_of(runs.begin(), runs.end(), [&](const AttackRun& run) { return !run.rows.count(i); });
  };
  experiments::for_each_clean_batch(*loaded.model, device, data.d, samples, args.batch_size, pending, [&](const auto& batch) {
    const auto& todo = batch.indices;
    // Attack only what the model gets right; the others are recorded as not attacked.
    std::vector<Row> clean(todo.size());  // not attacked (yet): no distances
    for (std::size_t k = 0; k < todo.size(); ++k) {
      const std::int64_t label = batch.labels[k];
      const std::int64_t target = args.targeted ? pick_target(args, todo[k], label, batch.classes) : -1;
      clean[k] = Row{todo[k], label, target, batch.correct[k], {}};
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
      if (!attacked.empty()) {
        const auto start = std::chrono::steady_clock::now();
        const auto result =
            run.attack.run(*loaded.model, data::take_rows(batch.x, attacked).to(device),
                           Tensor::from_vector(goals, {static_cast<std::int64_t>(goals.size())}).to(device));
        run.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        for (std::size_t k = 0; k < attacked.size(); ++k) run.rows[todo[attacked[k]]].r = result.samples[k];
      }
      run.mark_made(todo);
      run.write(run.summary());
    }
    if (several_ranks) return bar.update(static_cast<std::int64_t>(runs.front().made.size()));
    const auto best = write_best(runs, best_dir, run_identity(args, checkpoint, "best"));
    bar.update(best["samples"].get<std::int64_t>(),
               fmt::format("success {:.1f}% median L2 {:.4f} Linf {:.4f}", 100 * best["success_rate"].get<double>(),
                           best["l2"]["median"].get<double>(), best["linf"]["median"].get<double>()));
  });
  bar.finish();
  for (auto& run : runs) {
    if (several_ranks) run.gather();
    run.consolidate(run.summary());  // also folds in what an interrupted run of several ranks left
  }
  if (dist::rank() == 0) write_best(runs, best_dir, run_identity(args, checkpoint, "best"));
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
  app.add_option("--arch", args.arch, std::string(oa::experiments::kArchHelp) + " (of every --model)");
  app.add_option("--attack", args.attacks,
                 "cw-l2, cw-linf, ddn, fmn-linf, pgd-bisect-linf, pgd-bisect-l2, or a comma-separated list")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--split", args.split, "train or test")->capture_default_str();
  app.add_option("--data-dir", args.data_dir, "Directory of the data set (default: the data set's own)");
  oa::experiments::add_sample_flags(app, args.n, args.indices);
  oa::experiments::add_out_and_resume_flags(app, args.out, args.resume,
                                            "Output directory (<attack>/ and best/ with samples.csv, summary.json)");
  app.add_option("--batch-size", args.batch_size, "Samples attacked together")
      ->capture_default_str()
      ->check(Positive);
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
  oa::experiments::add_flags(*cw, args.cw_l2);
  oa::experiments::add_flags(*cw, args.cw_linf);
  oa::experiments::add_flags(*app.add_option_group("ddn"), args.ddn);
  oa::experiments::add_flags(*app.add_option_group("fmn-linf"), args.fmn);
  oa::experiments::add_flags(*app.add_option_group("pgd-bisect-linf and pgd-bisect-l2"), args.pgd);
  return oa::experiments::run_cli(app, argc, argv, "run_cw", [&] {
    resolve_preset(app, args);
    return run(args);
  });
}
