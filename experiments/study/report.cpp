#include "experiments/study/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <tuple>

#include "experiments/common/statistics.h"
#include "experiments/study/format.h"
#include "experiments/study/results.h"
#include "experiments/study/svg_plot.h"
#include "framework/io/atomic_file.h"

namespace oa::study {

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kPlotWidth = 505;
const std::string kCapacityLabel = "nonzero parameters";

// Colours: before/after fine-tuning (and train/test accuracy) in blue/orange, the
// memorisation control in purple; the OutlierAttack's sets S red, R grey, M blue.
const std::string kBlue = "#2c62a8", kOrange = "#d9731a", kGreen = "#2a8c55", kPurple = "#8e3fae", kRed = "#c62828",
                  kGrey = "#808080", kLightPurple = "#c9a3dc";

const std::vector<std::string> kStages = {"before", "after"}, kSplits = {"test", "train"}, kNorms = {"l2", "linf"};

std::string norm_name(const std::string& norm) { return norm == "l2" ? "L2" : "Linf"; }

// ---- Reading the models ----

std::vector<const json*> ladder_models(const json& ladder) { return array_at(ladder, {"models"}); }

bool any_model_has(const json& results, std::initializer_list<const char*> path) {
  for (const json* ladder : array_at(results, {"ladders"}))
    for (const json* model : ladder_models(*ladder))
      if (find(*model, path)) return true;
  return false;
}

std::string capacity_text(double capacity) {
  return std::isfinite(capacity) ? fmt::format("{:.0f}", capacity) : "–";
}

// The successful distances of one model, stage, split and norm with their bootstrap summary.
struct DistanceSummary {
  Distances distances;
  experiments::Summary summary;
};

// Summaries are bootstrapped once and shared by the plots and the tables.
class DistanceSummaries {
 public:
  const DistanceSummary& get(const json& model, const std::string& stage, const std::string& split,
                             const std::string& norm) {
    const auto key = std::make_tuple(&model, stage, split, norm);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      DistanceSummary s;
      s.distances = read_distances(model_distances(model, stage, split), norm);
      s.summary = experiments::summarize(s.distances.values);
      it = cache_.emplace(key, std::move(s)).first;
    }
    return it->second;
  }

 private:
  std::map<std::tuple<const json*, std::string, std::string, std::string>, DistanceSummary> cache_;
};

// ---- Plot helpers ----

// One point's value with its optional interval bar.
struct Value {
  double y = kNaN, low = kNaN, high = kNaN;
};

// A series over models: x = capacity, y and the bar from `value`.
Series model_series(const std::vector<const json*>& models, Series style, const std::function<Value(const json&)>& value) {
  bool any_bar = false;
  for (const json* model : models) {
    const Value v = value(*model);
    style.x.push_back(number_at(*model, {"capacity"}));
    style.y.push_back(v.y);
    style.low.push_back(v.low);
    style.high.push_back(v.high);
    any_bar = any_bar || std::isfinite(v.low);
  }
  if (!any_bar) style.low.clear(), style.high.clear();
  return style;
}

Series style(std::string name, std::string color, bool dashed = false, double dodge = 0) {
  Series s;
  s.name = std::move(name);
  s.color = std::move(color);
  s.dashed = dashed;
  s.dodge_px = dodge;
  return s;
}

// The memorisation control as one marked point (a purple square, not joined).
Series memo_style(std::string name, double dodge = 0) {
  Series s = style(std::move(name), kPurple, false, dodge);
  s.line = false;
  s.marker = Marker::square;
  return s;
}

Plot capacity_plot(std::string title, std::string y_label) {
  Plot p;
  p.title = std::move(title);
  p.x_label = kCapacityLabel;
  p.y_label = std::move(y_label);
  p.log_x = true;
  p.width = kPlotWidth;
  return p;
}

Paragraph how_to_read(std::string text) { return {std::move(text), "How to read this.", "how"}; }
Paragraph not_run(std::string text) { return {std::move(text), "Not run.", "muted"}; }

Cell number_cell(double value, int significant = 3) { return {number(value, significant), "num"}; }
Cell p_cell(double p) { return {number(p, 2), p < kAlpha ? "num strong" : "num"}; }
// An estimate with its interval on a second line.
Cell ci_cell(double estimate, double low, double high) {
  if (!std::isfinite(estimate)) return {"–", "num"};
  return {std::isfinite(low) ? number(estimate) + "\n" + interval(low, high) : number(estimate), "num"};
}
Cell verdict_cell(const std::string& verdict) {
  return {verdict, verdict == "supported" ? "good" : verdict == "not supported" ? "bad" : "mid"};
}

// ---- Sections ----

Section verdict_section(const std::vector<Verdict>& verdicts) {
  Section s{"verdicts", "Verdicts", {}};
  Table t{"", {"", "Hypothesis", "Verdict", "Statistic", "Why"}};
  t.css_class = "wide";
  // One line per ladder, norm or pair.
  const auto lines = [](const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const bool separator = text.compare(i, 2, "; ") == 0;
      out += separator ? '\n' : text[i];
      i += separator;
    }
    return out;
  };
  for (const auto& v : verdicts)
    t.rows.push_back({Cell(v.id), Cell(v.statement), verdict_cell(v.verdict), Cell(lines(v.statistic), "stat"),
                      Cell(lines(v.details.value("reason", "")), "muted")});
  s.blocks.push_back(t);
  s.blocks.push_back(how_to_read(
      "Each hypothesis of the proposal is tested at alpha = 0.05 on the numbers below. 'Supported' and 'not "
      "supported' are decisions of that test; 'inconclusive' means the data cannot decide (too few models or "
      "samples, an interval that contains zero but is wide, or ladders that disagree), not that the effect is "
      "absent. A hypothesis tested on several ladders, norms or model pairs is supported when some of them support "
      "it and none contradicts it. H2 and H3 use the test samples; the train samples are shown beside them. Every "
      "number behind a verdict is also in results.json under \"hypotheses\"."));
  return s;
}

Section checks_section(const json& results) {
  Section s{"checks", "Sanity checks", {}};
  const auto checks = array_at(results, {"checks"});
  if (checks.empty()) {
    s.blocks.push_back(not_run("No sanity checks in results.json."));
    return s;
  }
  Table t{"", {"Check", "Model", "Result", "Detail"}};
  int failed = 0;
  for (const json* check : checks) {
    const json* passed_node = find(*check, {"passed"});
    const bool passed = passed_node && passed_node->is_boolean() && passed_node->get<bool>();
    failed += !passed;
    t.rows.push_back({Cell(text_at(*check, {"name"})), Cell(text_at(*check, {"model"})),
                      Cell(passed ? "passed" : "FAILED", passed ? "good" : "bad"), Cell(text_at(*check, {"detail"}))});
    t.row_classes.push_back(passed ? "" : "bad");
  }
  if (failed)
    s.blocks.push_back(Paragraph{fmt::format("{} of {} sanity checks failed: read the distances of the models named "
                                             "there with suspicion (a weak attack or gradient masking).",
                                             failed, checks.size()),
                                 "", "warn"});
  else
    s.blocks.push_back(Paragraph{fmt::format("All {} sanity checks passed.", checks.size()), "", ""});
  s.blocks.push_back(t);
  s.blocks.push_back(how_to_read(
      "The checklist of Carlini et al. 2019 (\"On evaluating adversarial robustness\"): unbounded attacks must reach "
      "100% success; more iterations must never give larger distances; black-box and noise attacks must be weaker "
      "than the white-box ones (else the gradients are masked); success must grow with epsilon. A failed check means "
      "the minimal distances of that model may be overestimated, so a verdict that rests on them is weaker."));
  return s;
}

Section accuracy_section(const json& results) {
  Section s{"accuracy", "Accuracy against capacity", {}};
  const auto ladders = array_at(results, {"ladders"});
  const json* memo = find(results, {"memorisation"});
  if (ladders.empty()) {
    s.blocks.push_back(not_run("No capacity ladder in results.json."));
    return s;
  }
  const auto accuracy = [](const char* key) {
    return [key](const json& m) { return Value{number_at(m, {key})}; };
  };
  const auto gap = [](const json& m) {
    return Value{number_at(m, {"train_accuracy"}) - number_at(m, {"test_accuracy"})};
  };
  Figures figures;
  Table t{"", {"Ladder", "Model", "x", "Capacity", "Train accuracy", "Test accuracy", "Gap (train - test)"}};
  for (const json* ladder : ladders) {
    const std::string name = text_at(*ladder, {"name"}, "ladder");
    const auto models = ladder_models(*ladder);
    Plot acc = capacity_plot(name + ": accuracy", "accuracy");
    acc.y_max = 1;
    acc.series.push_back(model_series(models, style("train", kBlue), accuracy("train_accuracy")));
    acc.series.push_back(model_series(models, style("test", kOrange), accuracy("test_accuracy")));
    if (memo) {
      acc.series.push_back(model_series({memo}, memo_style("memorisation control, train"), accuracy("train_accuracy")));
      Series memo_test = memo_style("memorisation control, test");
      memo_test.color = kLightPurple;
      acc.series.push_back(model_series({memo}, memo_test, accuracy("test_accuracy")));
    }
    Plot gaps = capacity_plot(name + ": train-test gap", "train accuracy - test accuracy");
    gaps.series.push_back(model_series(models, style("gap", kGreen), gap));
    figures.svgs.push_back(render_svg(acc));
    figures.svgs.push_back(render_svg(gaps));
    for (const json* model : models) {
      t.rows.push_back({Cell(name), Cell(text_at(*model, {"name"})), number_cell(number_at(*model, {"x"})),
                        Cell(capacity_text(number_at(*model, {"capacity"})), "num"),
                        Cell(percent(number_at(*model, {"train_accuracy"})), "num"),
                        Cell(percent(number_at(*model, {"test_accuracy"})), "num"), number_cell(gap(*model).y)});
      t.row_classes.push_back("");
    }
  }
  if (memo) {
    t.rows.push_back({Cell("memorisation control"), Cell(text_at(*memo, {"name"}, "memorisation")), Cell("–", "num"),
                      Cell(capacity_text(number_at(*memo, {"capacity"})), "num"),
                      Cell(percent(number_at(*memo, {"train_accuracy"})), "num"),
                      Cell(percent(number_at(*memo, {"test_accuracy"})), "num"), number_cell(gap(*memo).y)});
    t.row_classes.push_back("memo");
  }
  s.blocks.push_back(figures);
  s.blocks.push_back(t);
  s.blocks.push_back(how_to_read(
      "Capacity is the number of nonzero parameters, on a log scale: compression moves a model to the left. H1 asks "
      "whether the gap between train and test accuracy shrinks to the left. The memorisation control (purple "
      "squares, the shaded row) has the dense architecture but random labels (index parity): it fits its training "
      "set while its test accuracy stays near chance (50%), so its gap is not drawn with the ladder's."));
  return s;
}

// The trend cells of H2 or H3 (verdict details) as a table; the train rows, which do not decide,
// in grey.
Table trend_table(const Verdict& v) {
  Table t{v.id + ": per-sample trend of the minimal distance against ln(capacity)",
          {"Ladder", "Norm", "Split", "Models", "Paired samples", "Mean slope [95% CI]", "Kendall tau of means (p)",
           "Verdict", "Why"}};
  for (const auto& cell : v.details.value("cells", json::array())) {
    const auto ci = cell.value("ci95", json::array());
    const double tau = cell.value("kendall_tau_of_means", kNaN), tau_p = cell.value("kendall_p_of_means", kNaN);
    const std::string split = cell.value("split", "");
    t.rows.push_back({Cell(cell.value("ladder", "")), Cell(cell.value("norm", "") == "l2" ? "L2" : "Linf"), Cell(split),
                      Cell(std::to_string(cell.value("models", json::array()).size()), "num"),
                      Cell(cell.contains("paired_samples") ? cell["paired_samples"].dump() : "–", "num"),
                      ci_cell(cell.value("mean_slope", kNaN), ci.size() == 2 ? ci[0].get<double>() : kNaN,
                              ci.size() == 2 ? ci[1].get<double>() : kNaN),
                      Cell(std::isfinite(tau) ? number(tau) + " (" + number(tau_p, 2) + ")" : "–", "num"),
                      verdict_cell(cell.value("verdict", "")), Cell(cell.value("reason", ""), "muted")});
    t.row_classes.push_back(split == "train" ? "aside" : "");
  }
  return t;
}

// The numbers behind a ladder's distance plots: per model, stage and split, the samples, the
// successes and the mean and median distance with their intervals; the memorisation control last.
Table distance_table(const std::string& ladder_name, const std::vector<const json*>& models, const json* memo,
                     DistanceSummaries& summaries) {
  Table t{ladder_name + ": successful attacks and their minimal distances (bootstrap 95% intervals)",
          {"Model", "Stage, split", "Attacked / samples", "L2 broken", "L2 mean", "L2 median", "Linf broken",
           "Linf mean", "Linf median"}};
  const auto add_rows = [&](const json& model, const std::string& row_class) {
    for (const auto& stage : kStages)
      for (const auto& split : kSplits) {
        if (!model_distances(model, stage, split)) continue;
        const auto& listed = summaries.get(model, stage, split, "l2").distances;
        std::vector<Cell> row = {
            Cell(text_at(model, {"name"})), Cell(stage + ",\u00a0" + split),  // no break inside
            Cell(fmt::format("{} / {}", listed.attacked >= 0 ? std::to_string(listed.attacked) : "–", listed.samples),
                 "num")};
        for (const auto& norm : kNorms) {
          const auto& d = summaries.get(model, stage, split, norm).summary;
          row.push_back(Cell(std::to_string(d.count), "num"));
          row.push_back(d.count ? ci_cell(d.mean, d.mean_ci_low, d.mean_ci_high) : Cell("–", "num"));
          row.push_back(d.count ? ci_cell(d.median, d.median_ci_low, d.median_ci_high) : Cell("–", "num"));
        }
        t.rows.push_back(row);
        t.row_classes.push_back(row_class);
      }
  };
  for (const json* model : models) add_rows(*model, "");
  if (memo) add_rows(*memo, "memo");
  return t;
}

Section distance_section(const json& results, DistanceSummaries& summaries, const Verdict& h2, const Verdict& h3) {
  Section s{"distances", "Minimal adversarial distances against capacity", {}};
  const auto ladders = array_at(results, {"ladders"});
  const json* memo = find(results, {"memorisation"});
  if (ladders.empty() || !any_model_has(results, {"attacks"})) {
    s.blocks.push_back(not_run("No minimal-distance attacks in results.json."));
    return s;
  }
  const bool after = any_model_has(results, {"attacks", "after"});
  // One plot per ladder, norm and statistic; one series per stage and split, a few pixels apart
  // so that the interval bars at the same capacity stay readable.
  for (const json* ladder : ladders) {
    const std::string name = text_at(*ladder, {"name"}, "ladder");
    const auto models = ladder_models(*ladder);
    Figures figures;
    for (const auto& norm : kNorms)
      for (const bool median : {false, true}) {
        const std::string statistic = median ? "median" : "mean";
        Plot p = capacity_plot(fmt::format("{}: {} minimal {} distance", name, statistic, norm_name(norm)),
                               fmt::format("{} {} distance", statistic, norm_name(norm)));
        p.y_min = 0;
        const auto value = [&](const std::string& stage, const std::string& split) {
          return [&, stage, split](const json& model) {
            const auto& sum = summaries.get(model, stage, split, norm).summary;
            if (sum.count == 0) return Value{};
            return median ? Value{sum.median, sum.median_ci_low, sum.median_ci_high}
                          : Value{sum.mean, sum.mean_ci_low, sum.mean_ci_high};
          };
        };
        double dodge = -7.5;
        for (const auto& stage : kStages) {
          if (stage == "after" && !after) continue;
          for (const auto& split : kSplits) {
            p.series.push_back(model_series(
                models, style(fmt::format("{}, {}", stage, split), stage == "before" ? kBlue : kOrange, split == "train", dodge),
                value(stage, split)));
            dodge += 5;
          }
        }
        if (memo)
          for (const auto& split : kSplits) {
            Series memo_point = memo_style("memorisation, " + split, split == "test" ? -3 : 3);
            if (split == "train") memo_point.color = kLightPurple;
            p.series.push_back(model_series({memo}, memo_point, value("before", split)));
          }
        figures.svgs.push_back(render_svg(p));
      }
    s.blocks.push_back(Paragraph{name, "", "subhead"});
    s.blocks.push_back(figures);
    s.blocks.push_back(distance_table(name, models, memo, summaries));
  }
  s.blocks.push_back(trend_table(h2));
  if (after)
    s.blocks.push_back(trend_table(h3));
  else
    s.blocks.push_back(not_run("No attacks after adversarial fine-tuning (attacks.after): H3 cannot be tested."));
  s.blocks.push_back(how_to_read(
      "For every sample an attack broke, the minimal distance is the smallest perturbation (best over the white-box "
      "attacks run) that changes the model's answer: larger means more robust. Blue is before, orange after "
      "adversarial fine-tuning; solid lines are test samples, dashed lines train samples; the bars are bootstrap 95% "
      "intervals; purple squares are the memorisation control. Only successful attacks have a distance: 'Attacked / "
      "samples' counts the samples the model classified correctly, hence attacked (a dash when results.json does not "
      "say), and 'broken' those an attack succeeded on. "
      "The trend tables test H2/H3 paired over the samples every model of the ladder broke: each sample's "
      "least-squares slope of its distance against ln(capacity), averaged, with a Student t 95% interval. A negative "
      "slope means the distance grows as the model is compressed (the hypothesis)."));
  return s;
}

Section robust_section(const json& results, const Verdict& h3) {
  Section s{"robust-accuracy", "Robust accuracy before and after adversarial fine-tuning", {}};
  const auto ladders = array_at(results, {"ladders"});
  const json* memo = find(results, {"memorisation"});
  if (!any_model_has(results, {"robust_accuracy"})) {
    s.blocks.push_back(not_run("No robust accuracy in results.json."));
    return s;
  }
  const auto robust = [](const char* stage) {
    return [stage](const json& m) { return Value{number_at(m, {"robust_accuracy", stage})}; };
  };
  Figures figures;
  Table t{"", {"Ladder", "Model", "Capacity", "eps", "Before", "After", "Adversarial examples seen"}};
  const auto add_row = [&](const std::string& ladder_name, const json& m, const std::string& row_class) {
    t.rows.push_back({Cell(ladder_name), Cell(text_at(m, {"name"})), Cell(capacity_text(number_at(m, {"capacity"})), "num"),
                      number_cell(number_at(m, {"robust_accuracy", "eps"})),
                      Cell(percent(number_at(m, {"robust_accuracy", "before"})), "num"),
                      Cell(percent(number_at(m, {"robust_accuracy", "after"})), "num"),
                      Cell(capacity_text(number_at(m, {"adv_examples"})), "num")});
    t.row_classes.push_back(row_class);
  };
  for (const json* ladder : ladders) {
    const std::string name = text_at(*ladder, {"name"}, "ladder");
    const auto models = ladder_models(*ladder);
    Plot p = capacity_plot(name + ": robust accuracy", "robust accuracy at eps");
    p.y_min = 0;
    p.y_max = 1;
    p.series.push_back(model_series(models, style("before", kBlue), robust("before")));
    p.series.push_back(model_series(models, style("after", kOrange), robust("after")));
    if (memo && find(*memo, {"robust_accuracy"}))
      p.series.push_back(model_series({memo}, memo_style("memorisation control, before"), robust("before")));
    figures.svgs.push_back(render_svg(p));
    for (const json* model : models) add_row(name, *model, "");
  }
  if (memo && find(*memo, {"robust_accuracy"})) add_row("memorisation control", *memo, "memo");
  s.blocks.push_back(figures);
  s.blocks.push_back(t);
  Table trend{"Kendall tau of robust accuracy against capacity", {"Ladder", "Stage", "Models", "tau", "p"}};
  for (const auto& cell : h3.details.value("robust_accuracy_vs_capacity", json::array()))
    trend.rows.push_back({Cell(cell.value("ladder", "")), Cell(cell.value("stage", "")),
                          Cell(cell["models"].dump(), "num"), number_cell(cell.value("kendall_tau", kNaN)),
                          p_cell(cell.value("p_value", kNaN))});
  if (!trend.rows.empty()) s.blocks.push_back(trend);
  s.blocks.push_back(how_to_read(
      "Robust accuracy is the share of test samples still classified correctly under an attack bounded by eps (the "
      "same eps for every model). Every model is fine-tuned on the same number of adversarial examples, so the "
      "'after' curve compares the rungs on equal terms: H3 expects it to rise to the left (negative tau: more robust "
      "at lower capacity)."));
  return s;
}

// One OutlierAttack pair's plot: success against queries for each set.
std::string outlier_plot(const json& pair, const std::string& title) {
  Plot p;
  p.title = title;
  p.x_label = "queries";
  p.y_label = "attack success rate";
  p.log_x = true;
  p.y_min = 0;
  p.y_max = 1;
  p.width = 640;
  const std::vector<std::tuple<std::string, std::string, bool>> sets = {
      {"S", kRed, false},     {"R", kGrey, false},     {"M", kBlue, false},
      {"S_test", kRed, true}, {"R_test", kGrey, true}, {"M_test", kBlue, true}};
  double dodge = -5;
  for (const auto& [set, color, held_out] : sets) {
    dodge += 2;
    const auto curve = array_at(pair, {"sets", set.c_str(), "success_vs_queries"});
    if (curve.empty()) continue;
    Series s = style(set, color, held_out, dodge);
    for (const json* point : curve) {
      if (!point->is_array() || point->size() < 4) continue;
      const auto at = [&](std::size_t k) { return (*point)[k].is_number() ? (*point)[k].get<double>() : kNaN; };
      s.x.push_back(at(0));
      s.y.push_back(at(1));
      s.low.push_back(at(2));
      s.high.push_back(at(3));
    }
    p.series.push_back(s);
  }
  return render_svg(p);
}

// The summary of a measure ({"mean", "median", "mean_ci95"}): the median, and the mean with its
// interval on a second line.
Cell measure_cell(const json& set, const char* key) {
  const double median = number_at(set, {key, "median"}), mean = number_at(set, {key, "mean"});
  const auto ci = array_at(set, {key, "mean_ci95"});
  std::string text = number(median);
  if (std::isfinite(mean))
    text += "\n" + number(mean) +
            (ci.size() == 2 && ci[0]->is_number() && ci[1]->is_number()
                 ? " " + interval(ci[0]->get<double>(), ci[1]->get<double>())
                 : "");
  return {text, "num"};
}

Section outlier_section(const json& results) {
  Section s{"outlier", "OutlierAttack: do outliers break A more easily?", {}};
  const auto pairs = array_at(results, {"outlier"});
  if (pairs.empty()) {
    s.blocks.push_back(not_run("No OutlierAttack results in results.json."));
    return s;
  }
  for (const json* pair : pairs) {
    const std::string label = fmt::format("A = {} against B = {}", text_at(*pair, {"a"}, "A"), text_at(*pair, {"b"}, "B"));
    s.blocks.push_back(Paragraph{label, "", "subhead"});
    s.blocks.push_back(Figures{{outlier_plot(*pair, label + ": success against queries")}});

    Table sets{label + ": the sets",
               {"Set", "n", "Median margin", "Median queries", "RayS Linf: median, mean [95% CI]",
                "White-box L2: median, mean [CI]", "White-box Linf: median, mean [CI]"}};
    for (const char* name : {"S", "R", "M", "S_test", "R_test", "M_test"}) {
      const json* set = find(*pair, {"sets", name});
      if (!set) continue;
      sets.rows.push_back({Cell(name), number_cell(number_at(*set, {"n"})), number_cell(number_at(*set, {"median_margin"})),
                           number_cell(number_at(*set, {"median_queries"})), measure_cell(*set, "rays_linf"),
                           measure_cell(*set, "whitebox_l2"), measure_cell(*set, "whitebox_linf")});
    }
    s.blocks.push_back(sets);

    Table comparisons{label + ": comparisons (Holm-adjusted over the pair's family)",
                      {"Measure", "Sets", "Test", "p", "Holm p", "Effect", "n"}};
    for (const json* c : array_at(*pair, {"comparisons"})) {
      std::string effect = "–";
      const auto shift_ci = array_at(*c, {"shift_ci95"});
      if (std::isfinite(number_at(*c, {"shift"})))
        effect = "shift " + number(number_at(*c, {"shift"})) +
                 (shift_ci.size() == 2 && shift_ci[0]->is_number() && shift_ci[1]->is_number()
                      ? " " + interval(shift_ci[0]->get<double>(), shift_ci[1]->get<double>())
                      : "");
      else if (find(*c, {"odds_ratio"}))
        effect = fmt::format("odds ratio {}; rates {} vs {}", number(number_at(*c, {"odds_ratio"})),
                             percent(number_at(*c, {"rate_x"})), percent(number_at(*c, {"rate_y"})));
      const double n_x = number_at(*c, {"n_x"}), n_y = number_at(*c, {"n_y"});
      comparisons.rows.push_back(
          {Cell(text_at(*c, {"measure"})), Cell(text_at(*c, {"x"}) + " vs " + text_at(*c, {"y"})),
           Cell(text_at(*c, {"test"})), p_cell(number_at(*c, {"p_value"})), p_cell(number_at(*c, {"p_holm"})),
           Cell(effect, "num"),
           Cell(std::isfinite(n_x) ? number(n_x) + " / " + number(n_y) : "–", "num")});
    }
    if (!comparisons.rows.empty()) s.blocks.push_back(comparisons);

    const json* adjusted = find(*pair, {"margin_adjusted"});
    const auto ci = array_at(*pair, {"margin_adjusted", "ci95"});
    if (adjusted && ci.size() == 2 && ci[0]->is_number() && ci[1]->is_number())
      s.blocks.push_back(Paragraph{
          fmt::format("regression of {} on membership of S and A's margin: coefficient of S = {} {}, p = {}, n = {}.",
                      text_at(*pair, {"margin_adjusted", "measure"}, "the measure"),
                      number(number_at(*pair, {"margin_adjusted", "coefficient_S"})),
                      interval(ci[0]->get<double>(), ci[1]->get<double>()),
                      number(number_at(*pair, {"margin_adjusted", "p_value"}), 2),
                      number(number_at(*pair, {"margin_adjusted", "n"}))),
          "Margin-adjusted effect (H4):", ""});
    else
      s.blocks.push_back(not_run("No margin-adjusted effect for this pair."));
  }
  s.blocks.push_back(how_to_read(
      "S are training samples that A classifies correctly and B does not (likely memorised by A); R are random "
      "samples both classify correctly; M are matched to S one-to-one on class and on A's margin; the _test sets are "
      "the same selection on held-out data. Curves: the share of each set broken by the black-box attack on A within "
      "a query budget, with Wilson 95% intervals (dashed: held-out). Because 'A right, B wrong' picks points near "
      "A's decision boundary, S against R is confounded by margin: the fair comparison is S against M, and the "
      "margin-adjusted coefficient of S (negative: outliers need smaller perturbations at equal margin) decides H4. "
      "p-values in bold are below 0.05; the Holm column corrects for the number of comparisons."));
  return s;
}

Section memorisation_section(const json& results, const Verdict& h5) {
  Section s{"memorisation", "Memorisation control against the ladder", {}};
  if (!find(results, {"memorisation"})) {
    s.blocks.push_back(not_run("No memorisation control in results.json."));
    return s;
  }
  for (const auto& cell : h5.details.value("cells", json::array())) {
    Table t{fmt::format("{}: memorisation control (median {}, n = {}) against each model, before fine-tuning, test "
                        "samples",
                        cell.value("label", ""), number(cell.value("memorisation_median", kNaN)),
                        cell.value("memorisation_n", json(0)).dump()),
            {"Model", "Median distance", "n", "Mann-Whitney p", "Holm p", "Shift (memorisation - model) [95% CI]"}};
    for (const auto& c : cell.value("comparisons", json::array())) {
      const auto ci = c.value("shift_ci95", json::array());
      t.rows.push_back({Cell(c.value("model", "")), number_cell(c.value("median", kNaN)), Cell(c["n"].dump(), "num"),
                        p_cell(c.value("p_value", kNaN)), p_cell(c.value("p_holm", kNaN)),
                        ci_cell(c.value("shift", kNaN), ci.size() == 2 ? ci[0].get<double>() : kNaN,
                                ci.size() == 2 ? ci[1].get<double>() : kNaN)});
    }
    if (t.rows.empty())
      s.blocks.push_back(Paragraph{cell.value("label", "") + ": " + cell.value("reason", ""), "", "muted"});
    else
      s.blocks.push_back(t);
  }
  s.blocks.push_back(how_to_read(
      "The memorisation control has the dense architecture trained on labels that carry no information about the "
      "image (index parity), so whatever it classifies correctly it has memorised. H5 expects its minimal distances "
      "to be the smallest of all models. The shift is the Hodges-Lehmann estimate of how much smaller (negative) its "
      "distances are than the model's; Holm p corrects for comparing with every model of the ladders."));
  return s;
}

std::string wall_time(double seconds) {
  if (!std::isfinite(seconds)) return "–";
  const auto total = static_cast<long long>(std::llround(seconds));
  if (total < 60) return fmt::format("{:.1f} s", seconds);
  if (total < 3600) return fmt::format("{} min {} s", total / 60, total % 60);
  return fmt::format("{} h {} min", total / 3600, (total % 3600) / 60);
}

}  // namespace

Document build_report(const json& results, const std::vector<Verdict>& verdicts) {
  Document d;
  const std::string name = text_at(results, {"run", "name"}, "unnamed run");
  d.title = "Compression and robustness: study report (" + name + ")";
  const auto fact = [&](const std::string& label, const std::string& value) {
    if (!value.empty()) d.facts.emplace_back(label, value);
  };
  fact("Preset", text_at(results, {"run", "preset"}, "–"));
  fact("Wall time", wall_time(number_at(results, {"run", "seconds"})));
  const double threads = number_at(results, {"run", "threads"});
  fact("CPU", text_at(results, {"run", "cpu"}, "–") +
                  (std::isfinite(threads) ? fmt::format(", {} threads", number(threads)) : ""));
  fact("Git commit", text_at(results, {"run", "git"}, "–"));
  fact("Started", text_at(results, {"run", "started"}));
  std::string ladders;
  for (const json* ladder : array_at(results, {"ladders"}))
    ladders += fmt::format("{}{} ({}, {} models)", ladders.empty() ? "" : "; ", text_at(*ladder, {"name"}, "ladder"),
                           text_at(*ladder, {"kind"}, "?"), ladder_models(*ladder).size());
  fact("Ladders", ladders.empty() ? "none" : ladders);

  const auto verdict = [&](const std::string& id) {
    for (const auto& v : verdicts)
      if (v.id == id) return v;
    return Verdict{id, "", "inconclusive", "", json::object()};
  };
  DistanceSummaries summaries;
  d.sections.push_back(verdict_section(verdicts));
  d.sections.push_back(checks_section(results));
  d.sections.push_back(accuracy_section(results));
  d.sections.push_back(distance_section(results, summaries, verdict("H2"), verdict("H3")));
  d.sections.push_back(robust_section(results, verdict("H3")));
  d.sections.push_back(outlier_section(results));
  d.sections.push_back(memorisation_section(results, verdict("H5")));
  // Reading help first: each section's "how to read this" paragraph goes to its top.
  for (auto& section : d.sections)
    std::stable_partition(section.blocks.begin(), section.blocks.end(), [](const Block& block) {
      const auto* p = std::get_if<Paragraph>(&block);
      return p && p->style == "how";
    });
  d.footer =
      "Written by the report module of run_study (experiments/study/) from results.json alone; the verdict rules "
      "are in experiments/study/results_schema.md. Intervals are 95%: bootstrap (2000 resamples) for means and "
      "medians, Student t for mean slopes, Wilson for success rates.";
  return d;
}

nlohmann::json write_report(const json& results, const std::filesystem::path& dir) {
  const auto verdicts = compute_verdicts(results);
  const Document document = build_report(results, verdicts);
  io::write_file_atomic((dir / "report.html").string(), render_html(document));
  io::write_file_atomic((dir / "report.md").string(), render_markdown(document));
  json hypotheses = json::array();
  for (const auto& v : verdicts) hypotheses.push_back(to_json(v));
  return hypotheses;
}

}  // namespace oa::study
