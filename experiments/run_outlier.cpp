// run_outlier: the OutlierAttack. Do the training samples that the big model A gets right and
// its compressed version B gets wrong (likely memorised by A) break A more easily than
// controls that both get right?
//   run_outlier --a models/weights/resnet20-fashion-mnist/checkpoint.safetensors
//               --b models/weights/resnet20-fashion-mnist-ladder-global/rung-0.9/checkpoint.safetensors
//               --max-per-set 50 --out runs/outlier-0.9
//
// 1. Selection (attacks/outlier_attack.h): A and every B (--b takes a comma-separated
//    population: a sample is an outlier when most of them get it wrong) answer every sample of
//    the training split and of the test split. On the training split: S (A right, B wrong),
//    R (random controls: A and B right) and M (one control per outlier, same class, nearest
//    margin of A); on the test split the held-out analogues S_test, R_test, M_test, which tell
//    memorisation from "low margin, hard sample". --select-a/--select-b select with the
//    attacker's own pair A', B' instead (trained on the same data): A is then only queried,
//    the truly black-box threat model. DIR/sets.csv holds the whole selection, before the cap.
//    --limit N selects among the first N samples of each split only (a smaller, faster pool).
// 2. Measures, every one against A, on at most --max-per-set samples of each set (seeded; M
//    follows its S partners); a sample in two sets (R and M) is attacked once:
//      square-linf  Square Attack at each radius of --eps with a budget of the largest of
//                   --budgets queries; success within b queries = success with at most b
//                   queries to the first success (one run read at every budget: the survival
//                   curve of the queries)
//      rays-linf    RayS, labels only, the whole --rays-queries budget: a minimal Linf estimate
//      ddn-l2       DDN (white-box), minimal L2
//      fmn-linf     FMN (white-box), minimal Linf
//    and A's clean margin z_y - max_{j != y} z_j and confidence softmax(z)_y.
// 3. Statistics (experiments/common/statistics.h), in summary.json and printed: per set the
//    success rate at every radius and budget (Wilson 95% intervals), median queries, the
//    attacker's view (adversarial examples found per 1000 queries spent on the set), distance
//    summaries with bootstrap intervals; S against R and M (and S_test against R_test and
//    M_test): Fisher's exact test of the success rates at the full budget, Mann-Whitney U with
//    the Hodges-Lehmann shift of queries (a failure counts as more than the budget) and of each
//    distance, all Holm-adjusted together as one family; and the margin-adjusted effect: the
//    least-squares fit of log(distance) on A's margin and an indicator of S over S, R and M,
//    whose S coefficient is the effect of being an outlier beyond what the margin explains.
// Files under --out: sets.csv (split, index, label, a_margin, set, partner), samples.csv (one
// row per sample and measure: split, index, label, sets, a_margin, a_confidence, attacked,
// attack, eps, success, l2, linf, l0, queries; NaN distances on failure; queries 0 for the
// white-box attacks, which do not query), summary.json. Written atomically after every batch;
// --resume continues, refusing a run made with other options. Under mpirun -np K rank 0
// selects, the batches of step 2 go round-robin to the K ranks (each rewrites its own
// samples.rank-R.csv after every batch), and rank 0 writes the files of one process at the end.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "attacks/ddn.h"
#include "attacks/fmn.h"
#include "attacks/outlier_attack.h"
#include "attacks/rays.h"
#include "attacks/square.h"
#include "experiments/common/cli.h"
#include "experiments/common/datasets.h"
#include "experiments/common/model_io.h"
#include "experiments/common/record.h"
#include "experiments/common/sample_runs.h"
#include "experiments/common/statistics.h"
#include "framework/autograd/node.h"
#include "framework/io/atomic_file.h"
#include "framework/util/progress_bar.h"
#include "framework/util/runtime.h"

namespace fs = std::filesystem;
using oa::attacks::SampleResult;
using oa::attacks::SelectionRow;
using Json = nlohmann::json;

namespace {

struct Args {
  std::string a, arch, out, data_dir;
  std::vector<std::string> b, select_a, select_b;
  std::int64_t limit = 0, max_per_set = 100, random_count = -1, batch_size = 50, eval_batch_size = 500;
  bool select_only = false, resume = false;
  std::uint64_t seed = 0;
  std::vector<double> eps{0.01, 0.02, 0.03};
  std::vector<std::int64_t> budgets{10, 100, 1000};
  std::int64_t rays_queries = 1000, ddn_steps = 100, fmn_steps = 100;
  oa::experiments::RuntimeOptions runtime;

  std::int64_t square_budget() const { return *std::max_element(budgets.begin(), budgets.end()); }
  // What --resume compares: the models and options that decide the selection (sets.csv) ...
  Json selection_identity() const {
    return {{"a", a},         {"b", b},
            {"select_a", select_a}, {"select_b", select_b},
            {"limit", limit}, {"random_count", random_count}, {"seed", seed}};
  }
  // ... and those that decide the measures (samples.csv); a selection without measures (from
  // --select-only) can be measured with any of them.
  Json measure_options() const {
    return {{"max_per_set", max_per_set}, {"eps", eps},           {"budgets", budgets},
            {"rays_queries", rays_queries}, {"ddn_steps", ddn_steps}, {"fmn_steps", fmn_steps}};
  }
};

// ---- 1. selection ---------------------------------------------------------------------------

// A model's predicted class and margin on every sample of a split (eval, no tape), in batches.
oa::attacks::ModelAnswers answers_on(oa::nn::Module& model, oa::Device device, const oa::data::Dataset& d,
                                     std::int64_t batch_size, const std::string& label) {
  oa::attacks::ModelAnswers all;
  oa::ProgressBar bar(label, d.size(), "img");
  oa::NoGradGuard no_grad;
  model.eval();
  for (std::int64_t first = 0; first < d.size(); first += batch_size) {
    std::vector<std::int64_t> rows;
    for (std::int64_t i = first; i < std::min(d.size(), first + batch_size); ++i) rows.push_back(i);
    const auto logits = model(oa::data::take_rows(d.images, rows).to(device));
    const auto answers = oa::attacks::predictions_and_margins(logits, oa::data::take_rows(d.labels, rows));
    all.predictions.insert(all.predictions.end(), answers.predictions.begin(), answers.predictions.end());
    all.margins.insert(all.margins.end(), answers.margins.begin(), answers.margins.end());
    bar.update(first + static_cast<std::int64_t>(rows.size()));
  }
  bar.finish();
  return all;
}

// What the selecting pair (A and the B population) says about every sample of one split.
oa::attacks::PoolPredictions pool_of(const std::string& split, const oa::data::Dataset& d, const std::string& a,
                                     const std::vector<std::string>& bs, const Args& args, oa::Device device) {
  oa::attacks::PoolPredictions pool;
  pool.labels = d.labels.to_vector<std::int64_t>();
  auto run = [&](const std::string& checkpoint, const std::string& role) {
    auto loaded = oa::experiments::load_frozen_model(checkpoint, checkpoint == args.a ? args.arch : "");
    OA_CHECK(loaded.config.classes == d.classes, "{}: the model has {} classes, the {} split has {}", checkpoint,
             loaded.config.classes, split, d.classes);
    loaded.model->to(device);
    return answers_on(*loaded.model, device, d, args.eval_batch_size, fmt::format("{} on {}", role, split));
  };
  auto answers = run(a, "A");
  pool.a_predictions = std::move(answers.predictions);
  pool.a_margins = std::move(answers.margins);
  for (std::size_t k = 0; k < bs.size(); ++k)
    pool.b_predictions.push_back(run(bs[k], fmt::format("B{}", k + 1)).predictions);
  return pool;
}

Json pool_json(const oa::attacks::PoolSelection& s) {
  return {{"outliers", s.outliers.size()},
          {"candidates", s.candidates},
          {"ties", s.ties},
          {"random", s.random.size()},
          {"unmatched", s.unmatched.size()}};
}

// ---- 2. measures ----------------------------------------------------------------------------

// One line of samples.csv: one measure of one sample.
struct MeasureRow {
  std::string split;
  std::int64_t index = 0, label = 0;
  std::string sets;  // the sets the sample is in, joined by ';' (R;M)
  double a_margin = SampleResult::kNaN, a_confidence = SampleResult::kNaN;  // of A, clean
  bool attacked = false;  // A classifies the clean sample correctly
  std::string attack;
  double eps = SampleResult::kNaN;  // square-linf's radius; NaN for the minimal-distance attacks
  SampleResult r;
  template <class Self, class Visit>
  static void fields(Self& row, Visit&& visit) {
    visit("split", row.split);
    visit("index", row.index);
    visit("label", row.label);
    visit("sets", row.sets);
    visit("a_margin", row.a_margin);
    visit("a_confidence", row.a_confidence);
    visit("attacked", row.attacked);
    visit("attack", row.attack);
    visit("eps", row.eps);
    SampleResult::outcome_fields(row.r, visit);
    visit("queries", row.r.queries);
  }
};

using SampleKey = std::pair<std::string, std::int64_t>;  // (split, index)

// The rows of every measured sample, in the order of measure_names(); samples.csv lists them
// by sample (split, then index), whatever the order, batches or ranks they were measured in.
using SampleRows = std::map<SampleKey, std::vector<MeasureRow>>;

std::vector<MeasureRow> flatten(const SampleRows& rows) {
  std::vector<MeasureRow> list;
  for (const auto& [key, sample] : rows) list.insert(list.end(), sample.begin(), sample.end());
  return list;
}

// Adds the rows of `list` (a samples.csv, or what a rank sent) to `rows`: a sample listed
// there replaces what `rows` had of it.
void merge_rows(SampleRows& rows, const std::vector<MeasureRow>& list) {
  SampleRows listed;
  for (const auto& row : list) listed[{row.split, row.index}].push_back(row);
  for (auto& [key, sample] : listed) rows[key] = std::move(sample);
}

// Every measure of a batch of samples that A classifies correctly (x, y on A's device; clean[k]
// the row of sample k without its measure): one row per sample and measure.
std::vector<MeasureRow> measure(oa::nn::Module& a, const Args& args, const oa::Tensor& x, const oa::Tensor& y,
                                const std::vector<MeasureRow>& clean) {
  using namespace oa::attacks;
  const std::int64_t n = x.size(0);
  std::vector<MeasureRow> rows;
  const auto add = [&](const std::string& attack, double eps, const AttackOutput& out) {
    for (std::int64_t k = 0; k < n; ++k) {
      MeasureRow row = clean[k];
      row.attack = attack;
      row.eps = eps;
      row.r = out.samples[k];
      rows.push_back(row);
    }
  };
  for (const double eps : args.eps) {
    ScoreQueryModel queries(a, n, args.square_budget());
    AttackOutput out = square(queries, x, y, {.norm = Norm::Linf, .eps = eps, .seed = args.seed});
    verify(a, x, y, /*targeted=*/false, out);
    add("square-linf", eps, out);
  }
  if (args.rays_queries > 0) {
    LabelQueryModel queries(a, n, args.rays_queries);
    AttackOutput out = rays(queries, x, y, {});
    verify(a, x, y, /*targeted=*/false, out);
    add("rays-linf", SampleResult::kNaN, out);
  }
  if (args.ddn_steps > 0) add("ddn-l2", SampleResult::kNaN, ddn(a, x, y, {.steps = args.ddn_steps}));
  if (args.fmn_steps > 0) add("fmn-linf", SampleResult::kNaN, fmn_linf(a, x, y, {.steps = args.fmn_steps}));
  return rows;
}

// The (attack, eps) of every measure, in the order of samples.csv.
std::vector<std::pair<std::string, double>> measure_names(const Args& args) {
  std::vector<std::pair<std::string, double>> names;
  for (const double eps : args.eps) names.emplace_back("square-linf", eps);
  if (args.rays_queries > 0) names.emplace_back("rays-linf", SampleResult::kNaN);
  if (args.ddn_steps > 0) names.emplace_back("ddn-l2", SampleResult::kNaN);
  if (args.fmn_steps > 0) names.emplace_back("fmn-linf", SampleResult::kNaN);
  return names;
}

// The rows of a batch before any measure: A's clean margin and confidence softmax(z)_y.
std::vector<MeasureRow> clean_rows(oa::nn::Module& a, oa::Device device, const std::string& split,
                                   const std::vector<std::int64_t>& indices, const oa::Tensor& x, const oa::Tensor& y,
                                   const std::map<SampleKey, std::string>& sets_of) {
  oa::Tensor logits;
  {
    oa::NoGradGuard no_grad;
    a.eval();
    logits = a(x.to(device));
  }
  const auto answers = oa::attacks::predictions_and_margins(logits, y);
  const auto z = logits.to_vector<double>();
  const auto labels = y.to_vector<std::int64_t>();
  const std::int64_t classes = logits.size(1);
  std::vector<MeasureRow> rows;
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const auto row = z.begin() + static_cast<std::int64_t>(k) * classes;
    const double top = *std::max_element(row, row + classes);
    double sum = 0;
    for (std::int64_t j = 0; j < classes; ++j) sum += std::exp(row[j] - top);
    MeasureRow clean;
    clean.split = split;
    clean.index = indices[k];
    clean.label = labels[k];
    clean.sets = sets_of.at({split, indices[k]});
    clean.a_margin = answers.margins[k];
    clean.a_confidence = std::exp(row[labels[k]] - top) / sum;
    clean.attacked = answers.predictions[k] == labels[k];
    rows.push_back(clean);
  }
  return rows;
}

// Measures every sample of `capped` not yet in `rows` (a sample in two sets once), adding its
// rows to `rows` and to `made` and calling save() after every batch. The batches: each
// split's samples in index order, cut into --batch-size; under mpirun -np K batch b goes to
// rank b mod K, so every batch is the one a single process measures.
void attack_sets(const Args& args, oa::nn::Module& a, oa::Device device,
                 const std::map<std::string, oa::data::Dataset>& splits, const std::vector<SelectionRow>& capped,
                 SampleRows& rows, SampleRows& made, const std::function<void()>& save) {
  std::map<SampleKey, std::string> sets_of;
  for (const auto& row : capped) {
    std::string& sets = sets_of[{row.split, row.index}];
    sets += (sets.empty() ? "" : ";") + row.set;
  }
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> batches;  // (split, indices)
  for (const auto& [key, sets] : sets_of) {
    if (batches.empty() || batches.back().first != key.first ||
        std::ssize(batches.back().second) == args.batch_size)
      batches.push_back({key.first, {}});
    batches.back().second.push_back(key.second);
  }
  const auto mine = oa::dist::shard(std::ssize(batches), oa::dist::rank(), oa::dist::world_size());
  std::int64_t total = 0, finished = 0;
  for (const std::int64_t b : mine)
    for (const std::int64_t index : batches[b].second) {
      ++total;
      finished += rows.count({batches[b].first, index}) ? 1 : 0;
    }
  oa::ProgressBar bar("attacks on A", total, "sample");
  const auto names = measure_names(args);
  for (const std::int64_t b : mine) {
    const auto& [split, indices] = batches[b];
    std::vector<std::int64_t> batch;  // not measured yet
    for (const std::int64_t index : indices)
      if (!rows.count({split, index})) batch.push_back(index);
    if (batch.empty()) continue;
    const auto& d = splits.at(split);
    const oa::Tensor x = oa::data::take_rows(d.images, batch), y = oa::data::take_rows(d.labels, batch);
    const auto clean = clean_rows(a, device, split, batch, x, y, sets_of);
    std::vector<MeasureRow> batch_rows;
    std::vector<std::int64_t> attacked;  // positions in the batch
    std::vector<MeasureRow> attacked_clean;
    for (std::size_t k = 0; k < clean.size(); ++k) {
      if (clean[k].attacked) {
        attacked.push_back(static_cast<std::int64_t>(k));
        attacked_clean.push_back(clean[k]);
        continue;
      }
      for (const auto& [attack, eps] : names) {  // A is already wrong: nothing to attack
        MeasureRow row = clean[k];
        row.attack = attack;
        row.eps = eps;
        batch_rows.push_back(row);
      }
    }
    if (!attacked.empty()) {
      const auto measured = measure(a, args, oa::data::take_rows(x, attacked).to(device),
                                    oa::data::take_rows(y, attacked).to(device), attacked_clean);
      batch_rows.insert(batch_rows.end(), measured.begin(), measured.end());
    }
    merge_rows(rows, batch_rows);
    merge_rows(made, batch_rows);
    save();
    finished += std::ssize(batch);
    bar.update(finished, split);
  }
  bar.finish();
}

// ---- 3. statistics --------------------------------------------------------------------------

const std::vector<std::pair<std::string, std::string>> kComparisons = {
    {"S", "R"}, {"S", "M"}, {"S_test", "R_test"}, {"S_test", "M_test"}};

// The minimal-distance measures: attack and the norm it minimises.
const std::vector<std::pair<std::string, std::string>> kDistanceMeasures = {
    {"rays-linf", "linf"}, {"ddn-l2", "l2"}, {"fmn-linf", "linf"}};

bool same_eps(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// The measure rows of the samples of each set, for the statistics.
class SetRows {
 public:
  SetRows(const std::vector<SelectionRow>& capped, const std::vector<MeasureRow>& rows) {
    for (const auto& row : capped) members_[row.set].push_back({row.split, row.index});
    for (const auto& row : rows) by_sample_[{row.split, row.index}].push_back(&row);
  }
  std::vector<std::string> sets() const {
    std::vector<std::string> names;
    for (const char* set : {"S", "R", "M", "S_test", "R_test", "M_test"})
      if (members_.count(set)) names.push_back(set);
    return names;
  }
  std::int64_t size(const std::string& set) const {
    return members_.count(set) ? static_cast<std::int64_t>(members_.at(set).size()) : 0;
  }
  // The rows of `attack` at `eps` of the measured, attacked samples of `set`.
  std::vector<const MeasureRow*> of(const std::string& set, const std::string& attack, double eps) const {
    std::vector<const MeasureRow*> found;
    if (!members_.count(set)) return found;
    for (const auto& key : members_.at(set)) {
      if (!by_sample_.count(key)) continue;
      for (const MeasureRow* row : by_sample_.at(key))
        if (row->attacked && row->attack == attack && same_eps(row->eps, eps)) found.push_back(row);
    }
    return found;
  }

 private:
  std::map<std::string, std::vector<SampleKey>> members_;
  std::map<SampleKey, std::vector<const MeasureRow*>> by_sample_;
};

std::vector<double> successful(const std::vector<const MeasureRow*>& rows, const std::string& norm) {
  std::vector<double> values;
  for (const MeasureRow* row : rows)
    if (row->r.success) values.push_back(norm == "l2" ? row->r.l2 : row->r.linf);
  return values;
}

// Queries to success, a failure counted as budget + 1 (more than any success: a rank test
// needs no more).
std::vector<double> censored_queries(const std::vector<const MeasureRow*>& rows, std::int64_t budget) {
  std::vector<double> values;
  for (const MeasureRow* row : rows)
    values.push_back(static_cast<double>(row->r.success ? row->r.queries : budget + 1));
  return values;
}

std::int64_t successes_within(const std::vector<const MeasureRow*>& rows, std::int64_t budget) {
  std::int64_t count = 0;
  for (const MeasureRow* row : rows) count += row->r.success && row->r.queries <= budget;
  return count;
}

Json rate_json(std::int64_t successes, std::int64_t trials) {
  const auto rate = oa::experiments::wilson_interval(successes, trials);
  return {{"successes", successes}, {"trials", trials}, {"rate", rate.estimate}, {"ci95", {rate.low, rate.high}}};
}

Json set_json(const SetRows& sets, const std::string& set, const Args& args) {
  const auto names = measure_names(args);
  const auto any = sets.of(set, names.front().first, names.front().second);  // one row per attacked sample
  std::vector<double> margins, confidences;
  for (const MeasureRow* row : any) {
    margins.push_back(row->a_margin);
    confidences.push_back(row->a_confidence);
  }
  Json j = {{"n", sets.size(set)},
            {"attacked", any.size()},
            {"a_margin", oa::experiments::mean_median_json(margins)},
            {"a_confidence", oa::experiments::mean_median_json(confidences)}};
  for (const double eps : args.eps) {
    const auto rows = sets.of(set, "square-linf", eps);
    Json curve = Json::array();
    for (const std::int64_t budget : args.budgets) {
      const auto rate = oa::experiments::wilson_interval(successes_within(rows, budget), std::ssize(rows));
      curve.push_back({budget, rate.estimate, rate.low, rate.high});
    }
    std::vector<double> queries;
    std::int64_t spent = 0;
    for (const MeasureRow* row : rows) {
      spent += row->r.queries;
      if (row->r.success) queries.push_back(static_cast<double>(row->r.queries));
    }
    const auto found = static_cast<double>(queries.size());
    j["square_linf"].push_back({{"eps", eps},
                                {"success", rate_json(static_cast<std::int64_t>(queries.size()), std::ssize(rows))},
                                {"success_vs_queries", curve},
                                {"median_queries", oa::experiments::summarize(queries).median},
                                {"queries_spent", spent},
                                {"adversarial_per_1000_queries", spent > 0 ? 1000.0 * found / double(spent) : 0.0}});
  }
  for (const auto& [attack, norm] : kDistanceMeasures) {
    const auto rows = sets.of(set, attack, SampleResult::kNaN);
    if (rows.empty()) continue;
    const auto values = successful(rows, norm);
    Json d = oa::experiments::mean_median_json(values);
    d["success"] = rate_json(std::ssize(values), std::ssize(rows));
    j[attack] = d;
  }
  return j;
}

Json mann_whitney_json(const std::string& measure, const std::string& x_set, const std::string& y_set,
                       const std::vector<double>& x, const std::vector<double>& y) {
  const auto mw = oa::experiments::mann_whitney(x, y);
  return {{"measure", measure},
          {"x", x_set},
          {"y", y_set},
          {"test", "mann_whitney"},
          {"n_x", x.size()},
          {"n_y", y.size()},
          {"median_x", oa::experiments::summarize(x).median},
          {"median_y", oa::experiments::summarize(y).median},
          {"u", mw.u},
          {"p_value", mw.p_value},
          {"shift", mw.shift.estimate},
          {"shift_ci95", {mw.shift.low, mw.shift.high}}};
}

// Every comparison of S with its controls, Holm-adjusted together (p_holm).
Json comparisons_json(const SetRows& sets, const Args& args) {
  Json tests = Json::array();
  for (const auto& [x_set, y_set] : kComparisons) {
    if (!sets.size(x_set) || !sets.size(y_set)) continue;
    for (const double eps : args.eps) {
      const auto x = sets.of(x_set, "square-linf", eps), y = sets.of(y_set, "square-linf", eps);
      if (x.empty() || y.empty()) continue;
      const std::int64_t budget = args.square_budget();
      const std::int64_t a = successes_within(x, budget), c = successes_within(y, budget);
      const auto fisher = oa::experiments::fisher_exact(a, std::ssize(x) - a, c, std::ssize(y) - c);
      tests.push_back({{"measure", fmt::format("square_linf_success@{}", eps)},
                       {"x", x_set},
                       {"y", y_set},
                       {"test", "fisher"},
                       {"n_x", x.size()},
                       {"n_y", y.size()},
                       {"rate_x", double(a) / double(x.size())},
                       {"rate_y", double(c) / double(y.size())},
                       {"odds_ratio", fisher.odds_ratio},
                       {"p_value", fisher.p_value}});
      tests.push_back(mann_whitney_json(fmt::format("square_linf_queries@{}", eps), x_set, y_set,
                                        censored_queries(x, budget), censored_queries(y, budget)));
    }
    for (const auto& [attack, norm] : kDistanceMeasures) {
      const auto x = successful(sets.of(x_set, attack, SampleResult::kNaN), norm);
      const auto y = successful(sets.of(y_set, attack, SampleResult::kNaN), norm);
      if (!x.empty() && !y.empty()) tests.push_back(mann_whitney_json(attack, x_set, y_set, x, y));
    }
  }
  std::vector<double> p_values;
  for (const auto& test : tests) p_values.push_back(test["p_value"].get<double>());
  const auto adjusted = oa::experiments::holm(p_values);
  for (std::size_t k = 0; k < tests.size(); ++k) tests[k]["p_holm"] = adjusted[k];
  return tests;
}

// log(distance) = b0 + b1 margin + b2 [sample in S] over the samples of S, R and M of one pool
// (a sample in R and M once): b2 is the outlier effect beyond A's margin.
Json margin_adjusted_json(const SetRows& sets, const std::string& suffix) {
  Json fits = Json::array();
  for (const auto& [attack, norm] : kDistanceMeasures) {
    std::vector<double> log_distance, margin, outlier;
    std::set<SampleKey> seen;
    for (const std::string set : {"S", "R", "M"})
      for (const MeasureRow* row : sets.of(set + suffix, attack, SampleResult::kNaN)) {
        const double d = norm == "l2" ? row->r.l2 : row->r.linf;
        if (!row->r.success || !(d > 0) || !seen.insert({row->split, row->index}).second) continue;
        log_distance.push_back(std::log(d));
        margin.push_back(row->a_margin);
        outlier.push_back(set == "S" ? 1.0 : 0.0);
      }
    Json fit = {{"pool", suffix.empty() ? "train" : "test"}, {"measure", "log " + attack}, {"n", log_distance.size()}};
    try {
      const auto ols = oa::experiments::least_squares(log_distance, {margin, outlier});
      const auto& s = ols.coefficients[2];
      fit.update({{"coefficient_S", s.estimate},
                  {"ci95", {s.ci_low, s.ci_high}},
                  {"p_value", s.p_value},
                  {"coefficient_margin", ols.coefficients[1].estimate},
                  {"r_squared", ols.r_squared}});
    } catch (const std::exception& e) {
      fit["error"] = e.what();  // too few samples, or no S (or no control) among them
    }
    fits.push_back(fit);
  }
  return fits;
}

void print_results(const Json& summary, const Args& args) {
  std::printf("\n%-7s %5s %8s", "set", "n", "margin");
  for (const double eps : args.eps) std::printf("  sq@%-6g med q", eps);
  std::printf(" %10s %9s %9s\n", "rays Linf", "ddn L2", "fmn Linf");
  for (const auto& [set, j] : summary["sets"].items()) {
    std::printf("%-7s %5lld %8.3f", set.c_str(), j["attacked"].get<long long>(), j["a_margin"]["median"].get<double>());
    for (const auto& sq : j["square_linf"])
      std::printf("  %5.1f%% %7.0f", 100 * sq["success"]["rate"].get<double>(), sq["median_queries"].get<double>());
    for (const char* attack : {"rays-linf", "ddn-l2", "fmn-linf"})
      std::printf(" %9.4f", j.contains(attack) ? j[attack]["median"].get<double>() : SampleResult::kNaN);
    std::printf("\n");
  }
  std::printf("(success at the full budget; median queries over successes; median distances over successes)\n\n");
  std::printf("%-28s %-15s %10s %10s %10s %9s %9s\n", "measure", "sets", "x", "y", "shift/OR", "p", "p Holm");
  for (const auto& t : summary["comparisons"]) {
    const bool fisher = t["test"] == "fisher";
    std::printf("%-28s %-15s %10.4g %10.4g %10.4g %9.2g %9.2g%s\n", t["measure"].get<std::string>().c_str(),
                (t["x"].get<std::string>() + " vs " + t["y"].get<std::string>()).c_str(),
                (fisher ? t["rate_x"] : t["median_x"]).get<double>(), (fisher ? t["rate_y"] : t["median_y"]).get<double>(),
                (fisher ? t["odds_ratio"] : t["shift"]).get<double>(), t["p_value"].get<double>(),
                t["p_holm"].get<double>(), t["p_holm"].get<double>() < 0.05 ? " *" : "");
  }
  std::printf("\nmargin-adjusted effect of S on log distance (least squares, 95%% interval):\n");
  for (const auto& fit : summary["margin_adjusted"]) {
    if (fit.contains("error")) {
      std::printf("  %-5s %-14s n=%lld: %s\n", fit["pool"].get<std::string>().c_str(),
                  fit["measure"].get<std::string>().c_str(), fit["n"].get<long long>(),
                  fit["error"].get<std::string>().c_str());
      continue;
    }
    std::printf("  %-5s %-14s n=%-5lld %+.4f [%+.4f, %+.4f] p=%.2g\n", fit["pool"].get<std::string>().c_str(),
                fit["measure"].get<std::string>().c_str(), fit["n"].get<long long>(),
                fit["coefficient_S"].get<double>(), fit["ci95"][0].get<double>(), fit["ci95"][1].get<double>(),
                fit["p_value"].get<double>());
  }
}

void check_args(const Args& a) {
  OA_CHECK(!a.b.empty(), "--b: name at least one B model");
  OA_CHECK(a.select_a.empty() == a.select_b.empty(),
           "--select-a and --select-b go together (the attacker's own A' and B'), got only one of them");
  OA_CHECK(a.select_a.size() <= 1, "--select-a: one model A', got {}", a.select_a.size());
  std::set<double> radii;
  for (const double eps : a.eps) {
    OA_CHECK(std::isfinite(eps) && eps > 0, "--eps: {} is not a radius (finite, > 0)", eps);
    OA_CHECK(radii.insert(eps).second, "--eps: {} is listed twice", eps);
  }
  for (const std::int64_t budget : a.budgets) OA_CHECK(budget >= 1, "--budgets: {} is not a query budget", budget);
}

// What an earlier invocation (or rank 0, for the other ranks) left in `out`: the selection,
// its summary, and the rows measured so far, with those the ranks of an interrupted run of
// several ranks kept in their own files.
struct Earlier {
  std::vector<SelectionRow> selection;
  Json selection_summary;
  SampleRows rows;
  double seconds = 0;
};
Earlier read_earlier(const Args& args, const Json& summary, const Json& earlier) {
  const fs::path out = args.out;
  Earlier e;
  e.selection = oa::experiments::read_csv<SelectionRow>((out / "sets.csv").string());
  merge_rows(e.rows, oa::experiments::read_csv<MeasureRow>((out / "samples.csv").string()));
  for (const auto& path : oa::experiments::rank_rows_files(out))
    merge_rows(e.rows, oa::experiments::read_csv<MeasureRow>(path.string()));
  OA_CHECK(e.rows.empty() || earlier.value("measures", Json()) == summary["measures"],
           "--resume: {}/samples.csv was measured with {}, this run asks for {}; resume with the same flags or "
           "choose another --out",
           args.out, earlier.value("measures", Json()).dump(), summary["measures"].dump());
  e.selection_summary = earlier.at("selection");
  e.seconds = earlier.value("seconds", 0.0);
  return e;
}

// The selection of step 1 (A and B, or the attacker's A' and B', on both splits), written to
// out/sets.csv.
Earlier select(const Args& args, const std::map<std::string, oa::data::Dataset>& splits, oa::Device device) {
  const bool attacker = !args.select_a.empty();
  const std::string& selector_a = attacker ? args.select_a.front() : args.a;
  const auto& selector_b = attacker ? args.select_b : args.b;
  const auto train = pool_of("train", splits.at("train"), selector_a, selector_b, args, device);
  const auto test = pool_of("test", splits.at("test"), selector_a, selector_b, args, device);
  const auto train_sets = oa::attacks::select_pool(train, args.random_count, args.seed);
  const auto test_sets = oa::attacks::select_pool(test, args.random_count, args.seed + 1);
  Earlier e;
  e.selection = oa::attacks::selection_rows(train, train_sets, test, test_sets);
  e.selection_summary = {{"train", pool_json(train_sets)}, {"test", pool_json(test_sets)},
                         {"selected_by", attacker ? "the attacker's A' and B'" : "A and B"}};
  fs::create_directories(args.out);
  oa::io::write_file_atomic((fs::path(args.out) / "sets.csv").string(), oa::experiments::csv_text(e.selection));
  return e;
}

int run(Args& args) {
  using namespace oa;
  check_args(args);
  std::sort(args.budgets.begin(), args.budgets.end());
  const Device device = args.runtime.apply();
  auto a = experiments::load_frozen_model(args.a, args.arch);
  a.model->to(device);
  const experiments::DataChoice choice{.name = a.metadata.value("dataset", std::string("fashion-mnist")),
                                       .dir = args.data_dir,
                                       .labels = a.metadata.value("labels", std::string("true")),
                                       .limit = args.limit};
  const std::map<std::string, data::Dataset> splits = {{"train", experiments::load_dataset(choice, "train")},
                                                       {"test", experiments::load_dataset(choice, "test")}};
  const fs::path out = args.out;
  const bool several_ranks = dist::world_size() > 1;
  Json summary = args.selection_identity();
  summary["measures"] = args.measure_options();
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  Earlier progress;  // the selection and every row known to this rank
  // The run's files with every row known (and the statistics when complete); the rank files
  // of an interrupted run of several ranks are in them now.
  const auto save = [&](bool complete, double seconds) {
    Json s = summary;
    s["seconds"] = seconds;
    s["complete"] = complete;
    const auto rows = flatten(progress.rows);
    if (complete) {
      const SetRows sets(attacks::cap_per_set(progress.selection, args.max_per_set, args.seed), rows);
      for (const auto& set : sets.sets()) s["sets"][set] = set_json(sets, set, args);
      s["comparisons"] = comparisons_json(sets, args);
      s["margin_adjusted"] = margin_adjusted_json(sets, "");
      for (auto& fit : margin_adjusted_json(sets, "_test")) s["margin_adjusted"].push_back(fit);
    }
    experiments::write_run_files(out, experiments::csv_text(rows), s);
    experiments::remove_rank_files(out);
    return s;
  };
  // Rank 0 selects (or reads what an earlier run left) and writes the run's files as one; the
  // other ranks then read them.
  if (dist::rank() == 0) {
    const Json earlier = experiments::earlier_summary(out, args.selection_identity(), args.resume);
    const bool resumed = !earlier.is_null() && fs::exists(out / "sets.csv");
    progress = resumed ? read_earlier(args, summary, earlier) : select(args, splits, device);
    if (resumed) std::printf("resume: the selection of %s/sets.csv\n", args.out.c_str());
    summary["selection"] = progress.selection_summary;
    save(false, progress.seconds);
  }
  dist::barrier();
  if (dist::rank() != 0) {
    progress = read_earlier(args, summary, experiments::earlier_summary(out, args.selection_identity(), true));
    summary["selection"] = progress.selection_summary;
  }
  const auto capped = attacks::cap_per_set(progress.selection, args.max_per_set, args.seed);
  std::map<std::string, std::int64_t> attacked_per_set;
  for (const auto& row : capped) ++attacked_per_set[row.set];
  summary["selection"]["measured_per_set"] = attacked_per_set;
  const auto& sel = summary["selection"];
  std::printf("selection by %s: train |S| = %lld of %lld candidates' pool (ties %lld, unmatched %lld); test |S_test| = "
              "%lld\n",
              sel["selected_by"].get<std::string>().c_str(), sel["train"]["outliers"].get<long long>(),
              sel["train"]["candidates"].get<long long>(), sel["train"]["ties"].get<long long>(),
              sel["train"]["unmatched"].get<long long>(), sel["test"]["outliers"].get<long long>());
  if (args.select_only) {
    std::printf("wrote %s/sets.csv (--select-only: no attack)\n", args.out.c_str());
    return 0;
  }
  if (!progress.rows.empty()) std::printf("resume: %zu samples already measured\n", progress.rows.size());
  // After every batch: the run's files (one rank), or this rank's own rows (several).
  SampleRows made;
  const auto save_batch = [&] {
    if (several_ranks)
      io::write_file_atomic(experiments::rank_rows_path(out, dist::rank()).string(), experiments::csv_text(flatten(made)));
    else
      save(false, progress.seconds + elapsed());
  };
  attack_sets(args, *a.model, device, splits, capped, progress.rows, made, save_batch);
  std::vector<double> seconds = {elapsed()};
  if (several_ranks) {  // rank 0 gathers every rank's rows; the seconds are those of all ranks
    const auto texts = dist::gather_text(experiments::csv_text(flatten(made)));
    for (std::size_t r = 0; r < texts.size(); ++r)
      merge_rows(progress.rows, experiments::read_csv_text<MeasureRow>(texts[r], fmt::format("the rows of rank {}", r)));
    dist::all_reduce_sum(seconds);
  }
  if (dist::rank() != 0) return 0;
  print_results(save(true, progress.seconds + seconds[0]), args);
  std::printf("\nwrote %s/{sets.csv,samples.csv,summary.json}\n", args.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  Args args;
  CLI::App app{"The OutlierAttack: training samples that A gets right and its compressed B gets wrong (S), against "
               "random (R) and margin-matched (M) controls and their held-out analogues, attacked on A with "
               "black-box (Square, RayS) and white-box (DDN, FMN) attacks, with the statistics that compare them."};
  app.add_option("--a", args.a, "Checkpoint of the big model A (the model attacked)")->required();
  app.add_option("--arch", args.arch, std::string(oa::experiments::kArchHelp) + " (of --a only)");
  app.add_option("--b", args.b, "Checkpoint(s) of the compressed B, comma-separated for a population")
      ->required()
      ->delimiter(',');
  app.add_option("--select-a", args.select_a, "The attacker's own A' (selection only; A is then only attacked)");
  app.add_option("--select-b", args.select_b, "The attacker's own B' (comma-separated for a population)")
      ->delimiter(',');
  app.add_option("--out", args.out, "Output directory (sets.csv, samples.csv, summary.json)")->required();
  app.add_option("--data-dir", args.data_dir, "Directory of the data set (default: the data set's own)");
  app.add_option("--limit", args.limit, "Select among the first N samples of each split only (0: all)")
      ->capture_default_str()
      ->check(oa::experiments::NonNegative);
  app.add_option("--max-per-set", args.max_per_set, "Samples measured per set (seeded; M follows S)")
      ->capture_default_str()
      ->check(oa::experiments::Positive);
  app.add_option("--random-count", args.random_count, "|R| before the cap (-1: |S|)")->capture_default_str();
  app.add_flag("--select-only", args.select_only, "Stop after sets.csv");
  app.add_flag("--resume", args.resume, "Continue the run in --out");
  app.add_option("--seed", args.seed, "Seed of R, the cap and Square")->capture_default_str();
  app.add_option("--eps", args.eps, "square-linf radii, comma-separated")->delimiter(',')->capture_default_str();
  app.add_option("--budgets", args.budgets, "Query budgets of the success curve; the largest is Square's")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--rays-queries", args.rays_queries, "RayS budget per sample (0: no RayS)")
      ->capture_default_str()
      ->check(oa::experiments::NonNegative);
  app.add_option("--ddn-steps", args.ddn_steps, "DDN steps (0: no DDN)")->capture_default_str()->check(oa::experiments::NonNegative);
  app.add_option("--fmn-steps", args.fmn_steps, "FMN steps (0: no FMN)")->capture_default_str()->check(oa::experiments::NonNegative);
  app.add_option("--batch-size", args.batch_size, "Samples attacked together")
      ->capture_default_str()
      ->check(oa::experiments::Positive);
  args.runtime.add_to(app);
  return oa::experiments::run_cli(app, argc, argv, "run_outlier", [&] { return run(args); });
}
