#include "experiments/study/verdicts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "experiments/common/statistics.h"
#include "experiments/study/format.h"
#include "experiments/study/results.h"

namespace oa::study {

namespace {

using experiments::holm;
using experiments::kendall_tau;
using experiments::least_squares;
using experiments::mann_whitney;
using experiments::student_t_quantile;

const std::string kSupported = "supported", kNotSupported = "not supported", kInconclusive = "inconclusive";
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The hypotheses of the proposal, H1..H5.
const char* const kStatements[] = {
    "Lower capacity, smaller train-test gap",
    "More compression, larger minimal adversarial distance",
    "After equal adversarial fine-tuning, compressed models are more robust",
    "Outliers (A right, B wrong) break A more easily than margin-matched controls",
    "The memorising model (index-parity labels) is the least robust",
};

Verdict start(int number) { return {fmt::format("H{}", number), kStatements[number - 1], kInconclusive, "", {}}; }

Verdict inconclusive(Verdict v, const std::string& reason) {
  v.verdict = kInconclusive;
  v.details["reason"] = reason;
  if (v.statistic.empty()) v.statistic = reason;
  return v;
}

std::string norm_label(const std::string& norm) { return norm == "l2" ? "L2" : "Linf"; }

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : separator) + part;
  return text;
}

// The verdict of a hypothesis from its cells: those in `deciding` are combined
// (combine_verdicts); the reason groups them by their own verdict and reason.
void conclude(Verdict& v, const json& cells, const std::vector<std::string>& deciding) {
  std::vector<std::string> verdicts, statistics, outcomes;
  std::vector<std::vector<std::string>> labels_by_outcome;
  for (const auto& cell : cells) {
    const std::string label = cell.value("label", "");
    if (std::find(deciding.begin(), deciding.end(), label) == deciding.end()) continue;
    verdicts.push_back(cell.value("verdict", kInconclusive));
    statistics.push_back(cell.value("statistic", label + ": no statistic"));
    const std::string outcome = fmt::format("{} ({})", verdicts.back(), cell.value("reason", ""));
    const auto same = std::find(outcomes.begin(), outcomes.end(), outcome);
    if (same == outcomes.end()) {
      outcomes.push_back(outcome);
      labels_by_outcome.push_back({label});
    } else {
      labels_by_outcome[same - outcomes.begin()].push_back(label);
    }
  }
  std::vector<std::string> reasons;
  for (std::size_t k = 0; k < outcomes.size(); ++k) reasons.push_back(join(labels_by_outcome[k], ", ") + ": " + outcomes[k]);
  v.verdict = combine_verdicts(verdicts);
  v.statistic = join(statistics, "; ");
  v.details["cells"] = cells;
  v.details["reason"] = join(reasons, "; ");
}

double mean_of(const std::vector<double>& values) {
  double total = 0;
  for (double x : values) total += x;
  return values.empty() ? kNaN : total / static_cast<double>(values.size());
}

double median_of(std::vector<double> values) {
  if (values.empty()) return kNaN;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// ---- H2 and H3: the per-sample trend of the minimal distance against ln(capacity) ----

// One ladder, stage, split and norm: the cell of H2 (stage "before") or H3 ("after").
json distance_trend(const json& ladder, const std::string& stage, const std::string& split, const std::string& norm) {
  const std::string name = text_at(ladder, {"name"}, "ladder");
  json cell = {{"label", fmt::format("{} {} {}", name, norm_label(norm), split)},
               {"ladder", name}, {"stage", stage}, {"split", split}, {"norm", norm}};
  const auto decide = [&](const std::string& verdict, const std::string& reason) {
    cell["verdict"] = verdict;
    cell["reason"] = reason;
    return cell;
  };

  // The successful distances of every model with a capacity and this DIST, by sample index.
  std::vector<double> capacities;
  std::vector<std::map<std::int64_t, double>> by_index;
  std::vector<std::string> models, left_out;
  for (const json* model : array_at(ladder, {"models"})) {
    const double capacity = number_at(*model, {"capacity"});
    const json* dist = model_distances(*model, stage, split);
    const std::string model_name = text_at(*model, {"name"}, "?");
    if (!(capacity > 0) || !dist) {
      left_out.push_back(model_name);
      continue;
    }
    const Distances d = read_distances(dist, norm);
    std::map<std::int64_t, double> distances;
    for (std::size_t i = 0; i < d.indices.size(); ++i) distances[d.indices[i]] = d.values[i];
    capacities.push_back(capacity);
    by_index.push_back(std::move(distances));
    models.push_back(model_name);
  }
  cell["models"] = models;
  if (!left_out.empty()) cell["models_without_data"] = left_out;
  const std::string what = fmt::format("{} {}", stage, split);
  if (models.size() < 3)
    return decide(kInconclusive, fmt::format("{} models with {} distances, 3 needed", models.size(), what));

  // The samples attacked successfully by every model: the trend is paired over them.
  std::vector<std::int64_t> paired;
  for (const auto& [index, distance] : by_index[0]) {
    bool everywhere = true;
    for (const auto& other : by_index) everywhere = everywhere && other.count(index);
    if (everywhere) paired.push_back(index);
  }
  cell["paired_samples"] = paired.size();
  if (paired.size() < 5)
    return decide(kInconclusive, fmt::format("{} samples attacked successfully by every model, 5 needed", paired.size()));

  // Each sample's slope: least squares of its distances on ln(capacity) across the models.
  std::vector<double> log_capacity;
  for (double c : capacities) log_capacity.push_back(std::log(c));
  const double capacity_range = std::log(*std::max_element(capacities.begin(), capacities.end()) /
                                         *std::min_element(capacities.begin(), capacities.end()));
  if (!(capacity_range > 0)) return decide(kInconclusive, "every model has the same capacity");
  std::vector<double> slopes, model_means(models.size(), 0.0);
  for (std::int64_t index : paired) {
    std::vector<double> distances;
    for (std::size_t m = 0; m < models.size(); ++m) {
      distances.push_back(by_index[m].at(index));
      model_means[m] += distances.back() / static_cast<double>(paired.size());
    }
    slopes.push_back(least_squares(distances, {log_capacity}).coefficients[1].estimate);
  }

  // The mean slope with a one-sample Student t 95% interval.
  const double n = static_cast<double>(slopes.size()), mean = mean_of(slopes);
  double squares = 0;
  for (double s : slopes) squares += (s - mean) * (s - mean);
  const double standard_error = std::sqrt(squares / (n - 1) / n);
  const double half_width = student_t_quantile(0.975, n - 1) * standard_error;
  const double low = mean - half_width, high = mean + half_width;
  // "Tight": every slope in the interval moves the distance by less than 5% of its mean across
  // the whole capacity range of the ladder.
  const double mean_distance = mean_of(model_means);
  const bool tight = std::max(std::abs(low), std::abs(high)) * capacity_range < 0.05 * mean_distance;
  const auto tau = kendall_tau(capacities, model_means);

  cell["capacities"] = capacities;
  cell["mean_slope"] = mean;
  cell["ci95"] = {low, high};
  cell["degrees_of_freedom"] = n - 1;
  cell["mean_distance"] = mean_distance;
  cell["ln_capacity_range"] = capacity_range;
  cell["model_means"] = model_means;
  cell["kendall_tau_of_means"] = tau.tau;
  cell["kendall_p_of_means"] = tau.p_value;
  cell["statistic"] = fmt::format("{}: mean per-sample slope vs ln(capacity) = {} {}, n = {} samples × {} models",
                                  cell["label"].get<std::string>(), number(mean), interval(low, high), paired.size(),
                                  models.size());
  if (high < 0) return decide(kSupported, "the distance grows as capacity falls");
  if (low > 0) return decide(kNotSupported, "the distance falls as capacity falls");
  if (tight) return decide(kNotSupported, "no trend: the interval contains 0 and rules out a 5% change across the ladder");
  return decide(kInconclusive, "the interval contains 0 and is too wide to rule out a trend");
}

// H2 (stage "before") and H3 ("after"): a cell per ladder, split and norm; the test cells decide.
Verdict distance_verdict(Verdict v, const json& results, const std::string& stage) {
  const auto ladders = array_at(results, {"ladders"});
  if (ladders.empty()) return inconclusive(v, "not run: no capacity ladder in results.json");
  json cells = json::array();
  std::vector<std::string> deciding;
  bool any_data = false;
  for (const json* ladder : ladders) {
    for (const json* model : array_at(*ladder, {"models"}))
      any_data = any_data || find(*model, {"attacks", stage.c_str()});
    for (const std::string split : {"test", "train"})
      for (const std::string norm : {"l2", "linf"}) {
        cells.push_back(distance_trend(*ladder, stage, split, norm));
        if (split == "test") deciding.push_back(cells.back()["label"]);
      }
  }
  if (!any_data)
    return inconclusive(v, stage == "after" ? "not run: no distances after adversarial fine-tuning (attacks.after)"
                                            : "not run: no minimal distances (attacks.before)");
  conclude(v, cells, deciding);
  return v;
}

}  // namespace

std::string combine_verdicts(const std::vector<std::string>& cell_verdicts) {
  const auto count = [&](const std::string& verdict) {
    return std::count(cell_verdicts.begin(), cell_verdicts.end(), verdict);
  };
  const auto supported = count(kSupported), contradicted = count(kNotSupported);
  if (supported > 0 && contradicted == 0) return kSupported;
  if (contradicted > 0 && supported == 0) return kNotSupported;
  return kInconclusive;
}

nlohmann::json to_json(const Verdict& verdict) {
  return {{"id", verdict.id},
          {"statement", verdict.statement},
          {"verdict", verdict.verdict},
          {"statistic", verdict.statistic},
          {"details", verdict.details}};
}

Verdict verdict_h1(const json& results) {
  Verdict v = start(1);
  const auto ladders = array_at(results, {"ladders"});
  if (ladders.empty()) return inconclusive(v, "not run: no capacity ladder in results.json");
  // The prune ladders decide; without one, the depth ladders; without either, all of them.
  const auto has_kind = [&](const std::string& kind) {
    return std::any_of(ladders.begin(), ladders.end(), [&](const json* l) { return text_at(*l, {"kind"}) == kind; });
  };
  const std::string deciding_kind = has_kind("prune") ? "prune" : has_kind("depth") ? "depth" : "";

  json cells = json::array();
  std::vector<std::string> deciding, statistics, shown;
  for (const json* ladder : ladders) {
    const std::string name = text_at(*ladder, {"name"}, "ladder"), kind = text_at(*ladder, {"kind"});
    std::vector<double> capacity, gap;
    for (const json* model : array_at(*ladder, {"models"})) {
      const double c = number_at(*model, {"capacity"}), train = number_at(*model, {"train_accuracy"}),
                   test = number_at(*model, {"test_accuracy"});
      if (!std::isfinite(c) || !std::isfinite(train) || !std::isfinite(test)) continue;
      capacity.push_back(c);
      gap.push_back(train - test);
    }
    const bool decides = deciding_kind.empty() || kind == deciding_kind;
    json cell = {{"label", name}, {"kind", kind}, {"models", capacity.size()}, {"gaps", gap},
                 {"capacities", capacity}, {"role", decides ? "decides" : "can only contradict"}};
    std::string verdict = kInconclusive, reason;
    bool reversed = false;
    if (capacity.size() < 4) {
      reason = fmt::format("{} models with both accuracies, 4 needed", capacity.size());
      cell["statistic"] = fmt::format("{}: {} models (4 needed)", name, capacity.size());
    } else {
      const auto tau = kendall_tau(capacity, gap);
      cell["kendall_tau"] = tau.tau;
      cell["p_value"] = tau.p_value;
      cell["statistic"] = fmt::format("{}: Kendall tau(capacity, gap) = {}, p = {}, n = {} models", name,
                                      number(tau.tau), number(tau.p_value, 2), capacity.size());
      if (std::isnan(tau.tau)) {
        reason = "the capacity or the gap is the same for every model";
      } else if (tau.p_value < kAlpha && tau.tau > 0) {
        verdict = kSupported, reason = "the gap grows with capacity";
      } else if (tau.p_value < kAlpha && tau.tau < 0) {
        verdict = kNotSupported, reason = "reversed: the gap shrinks as capacity grows", reversed = true;
      } else if (capacity.size() >= 5) {
        verdict = kNotSupported, reason = fmt::format("no trend (p >= {})", kAlpha);
      } else {
        reason = "no significant trend, and 4 models are too few to call it none";
      }
    }
    cell["verdict"] = verdict;
    cell["reason"] = reason;
    cells.push_back(cell);
    statistics.push_back(cell["statistic"]);
    // A ladder that does not decide can only contradict, by a significant reversal.
    if (decides || reversed)
      deciding.push_back(name);
    else
      shown.push_back(fmt::format("{}: {} ({}), shown: it could only contradict", name, verdict, reason));
  }
  conclude(v, cells, deciding);
  v.statistic = join(statistics, "; ");
  if (!shown.empty()) v.details["reason"] = v.details["reason"].get<std::string>() + "; " + join(shown, "; ");
  return v;
}

Verdict verdict_h2(const json& results) { return distance_verdict(start(2), results, "before"); }

Verdict verdict_h3(const json& results) {
  Verdict v = distance_verdict(start(3), results, "after");
  // Shown beside it: robust accuracy against capacity, before and after fine-tuning.
  json robust = json::array();
  for (const json* ladder : array_at(results, {"ladders"}))
    for (const char* stage : {"before", "after"}) {
      std::vector<double> capacity, accuracy;
      for (const json* model : array_at(*ladder, {"models"})) {
        const double c = number_at(*model, {"capacity"}), a = number_at(*model, {"robust_accuracy", stage});
        if (!std::isfinite(c) || !std::isfinite(a)) continue;
        capacity.push_back(c);
        accuracy.push_back(a);
      }
      if (capacity.size() < 3) continue;
      const auto tau = kendall_tau(capacity, accuracy);
      robust.push_back({{"ladder", text_at(*ladder, {"name"}, "ladder")}, {"stage", stage},
                        {"models", capacity.size()}, {"kendall_tau", tau.tau}, {"p_value", tau.p_value}});
    }
  v.details["robust_accuracy_vs_capacity"] = robust;
  return v;
}

Verdict verdict_h4(const json& results) {
  Verdict v = start(4);
  const auto pairs = array_at(results, {"outlier"});
  if (pairs.empty()) return inconclusive(v, "not run: no OutlierAttack results (outlier)");
  json cells = json::array();
  std::vector<std::string> deciding;
  for (const json* pair : pairs) {
    const std::string label = fmt::format("{} vs {}", text_at(*pair, {"a"}, "A"), text_at(*pair, {"b"}, "B"));
    json cell = {{"label", label}};
    const double coefficient = number_at(*pair, {"margin_adjusted", "coefficient_S"});
    const auto ci = array_at(*pair, {"margin_adjusted", "ci95"});
    const bool have_ci = ci.size() == 2 && ci[0]->is_number() && ci[1]->is_number();
    if (!std::isfinite(coefficient) || !have_ci) {
      cell["verdict"] = kInconclusive;
      cell["reason"] = "no margin-adjusted effect in the results";
      cell["statistic"] = label + ": no margin-adjusted effect";
    } else {
      const double low = ci[0]->get<double>(), high = ci[1]->get<double>();
      cell["coefficient_S"] = coefficient;
      cell["ci95"] = {low, high};
      cell["statistic"] = fmt::format(
          "{}: coefficient of S on {} = {} {}, p = {}, n = {}", label,
          text_at(*pair, {"margin_adjusted", "measure"}, "the measure"), number(coefficient), interval(low, high),
          number(number_at(*pair, {"margin_adjusted", "p_value"}), 2), number(number_at(*pair, {"margin_adjusted", "n"})));
      cell["verdict"] = high < 0 ? kSupported : low > 0 ? kNotSupported : kInconclusive;
      cell["reason"] = high < 0  ? "outliers are broken more easily than their controls, beyond margin"
                       : low > 0 ? "outliers are harder to break than their controls, beyond margin"
                                 : "the interval contains 0";
    }
    // The S-vs-M comparisons, as run_outlier computed them.
    json s_vs_m = json::array();
    for (const json* comparison : array_at(*pair, {"comparisons"})) {
      const std::string x = text_at(*comparison, {"x"}), y = text_at(*comparison, {"y"});
      if ((x == "S" && y == "M") || (x == "M" && y == "S")) s_vs_m.push_back(*comparison);
    }
    cell["s_vs_m"] = s_vs_m;
    cells.push_back(cell);
    deciding.push_back(label);
  }
  conclude(v, cells, deciding);
  return v;
}

Verdict verdict_h5(const json& results) {
  Verdict v = start(5);
  const json* memorisation = find(results, {"memorisation"});
  if (!memorisation) return inconclusive(v, "not run: no memorisation control (memorisation)");
  // Every ladder model once (the dense model may head several ladders).
  std::vector<const json*> models;
  std::set<std::string> seen;
  for (const json* ladder : array_at(results, {"ladders"}))
    for (const json* model : array_at(*ladder, {"models"}))
      if (seen.insert(text_at(*model, {"name"}, fmt::format("model {}", seen.size()))).second) models.push_back(model);
  if (models.empty()) return inconclusive(v, "no ladder models to compare the memorisation control with");

  json cells = json::array();
  std::vector<std::string> deciding;
  for (const std::string norm : {"l2", "linf"}) {
    const std::string label = norm_label(norm);
    json cell = {{"label", label}, {"norm", norm}};
    const auto memo = read_distances(model_distances(*memorisation, "before", "train"), norm);
    const double memo_median = median_of(memo.values);
    cell["memorisation_median"] = memo_median;
    cell["memorisation_n"] = memo.values.size();
    if (memo.values.size() < 5) {
      cell["verdict"] = kInconclusive;
      cell["reason"] = fmt::format("{} successful attacks on the memorisation control, 5 needed", memo.values.size());
      cell["statistic"] = label + ": " + cell["reason"].get<std::string>();
      cells.push_back(cell);
      deciding.push_back(label);
      continue;
    }
    // Mann-Whitney of the control against each model, then Holm over the models.
    json comparisons = json::array();
    std::vector<double> p_values, medians;
    for (const json* model : models) {
      const auto d = read_distances(model_distances(*model, "before", "train"), norm);
      if (d.values.size() < 5) continue;
      // 400 resamples for the Hodges-Lehmann interval: each costs |x| |y| differences.
      const auto test = mann_whitney(memo.values, d.values, 400);
      p_values.push_back(test.p_value);
      medians.push_back(median_of(d.values));
      comparisons.push_back({{"model", text_at(*model, {"name"}, "?")}, {"median", medians.back()},
                             {"n", d.values.size()}, {"p_value", test.p_value},
                             {"shift", test.shift.estimate}, {"shift_ci95", {test.shift.low, test.shift.high}}});
    }
    const auto adjusted = holm(p_values);
    bool lowest_everywhere = !comparisons.empty(), some_lower = false;
    double largest_p = 0;
    std::string lowest_model;
    double lowest_median = INFINITY;
    for (std::size_t k = 0; k < comparisons.size(); ++k) {
      comparisons[k]["p_holm"] = adjusted[k];
      largest_p = std::max(largest_p, adjusted[k]);
      lowest_everywhere = lowest_everywhere && memo_median < medians[k] && adjusted[k] < kAlpha;
      some_lower = some_lower || (medians[k] < memo_median && adjusted[k] < kAlpha);
      if (medians[k] < lowest_median) lowest_median = medians[k], lowest_model = comparisons[k]["model"];
    }
    cell["comparisons"] = comparisons;
    if (comparisons.empty()) {
      cell["verdict"] = kInconclusive;
      cell["reason"] = "no ladder model has 5 successful attacks";
      cell["statistic"] = label + ": no ladder model to compare with";
    } else {
      cell["statistic"] = fmt::format(
          "{}: median {} for the memorising model (n = {}) vs lowest ladder median {} ({}); largest Holm p = {} over "
          "{} models",
          label, number(memo_median), memo.values.size(), number(lowest_median), lowest_model, number(largest_p, 2),
          comparisons.size());
      cell["verdict"] = lowest_everywhere ? kSupported : some_lower ? kNotSupported : kInconclusive;
      cell["reason"] = lowest_everywhere ? "its median is the lowest, every difference significant"
                       : some_lower      ? "some ladder model has a significantly lower median"
                                         : "lowest median not significant against every model";
    }
    cells.push_back(cell);
    deciding.push_back(label);
  }
  conclude(v, cells, deciding);
  return v;
}

std::vector<Verdict> compute_verdicts(const json& results) {
  const std::function<Verdict(const json&)> rules[] = {verdict_h1, verdict_h2, verdict_h3, verdict_h4, verdict_h5};
  std::vector<Verdict> verdicts;
  for (int k = 0; k < 5; ++k) {
    try {
      verdicts.push_back(rules[k](results));
    } catch (const std::exception& e) {
      verdicts.push_back(inconclusive(start(k + 1), fmt::format("malformed results.json: {}", e.what())));
    }
  }
  return verdicts;
}

}  // namespace oa::study
