#include "tests/study/synthetic_results.h"

#include <fmt/format.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "experiments/common/statistics.h"

namespace oa::test {

namespace {

using nlohmann::json;

// One model's DIST: distance = base * scale * (1 + trend 0.15 compression), with 3% noise;
// about 5% of the samples fail (null) and 3% are not attacked (misclassified).
json synthetic_distances(const std::vector<double>& base, double scale, double compression, int trend,
                         std::int64_t first_index, std::mt19937_64& rng) {
  std::normal_distribution<double> noise(0.0, 0.03);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  json indices = json::array(), l2 = json::array(), linf = json::array(), success = json::array(),
       attacked = json::array();
  for (std::size_t i = 0; i < base.size(); ++i) {
    const bool was_attacked = uniform(rng) > 0.03, succeeded = was_attacked && uniform(rng) > 0.05;
    const double d = base[i] * scale * (1 + trend * 0.15 * compression) * (1 + noise(rng));
    indices.push_back(first_index + 7 * static_cast<std::int64_t>(i));
    attacked.push_back(was_attacked);
    success.push_back(succeeded);
    l2.push_back(succeeded ? json(d) : json(nullptr));
    linf.push_back(succeeded ? json(0.06 * d * (1 + noise(rng))) : json(nullptr));
  }
  return {{"indices", indices}, {"l2", l2},     {"linf", linf},
          {"success_l2", success}, {"success_linf", success}, {"attacked", attacked}};
}

json synthetic_model(const std::string& name, double x, double capacity, double compression,
                     const SyntheticOptions& o, const std::vector<double>& base, double distance_scale,
                     std::mt19937_64& rng) {
  // The gap shrinks with compression (H1); test accuracy falls a little.
  const double test = 0.91 - 0.004 * compression, train = test + 0.05 / (1 + compression);
  json model = {{"name", name}, {"x", x}, {"capacity", capacity}, {"checkpoint", name + ".safetensors"},
                {"train_accuracy", train}, {"test_accuracy", test}};
  model["attacks"]["before"] = {
      {"test", synthetic_distances(base, distance_scale, compression, o.distance_trend, 100, rng)},
      {"train", synthetic_distances(base, 0.9 * distance_scale, compression, o.distance_trend, 1000, rng)}};
  if (o.after) {
    model["attacks"]["after"] = {
        {"test", synthetic_distances(base, 2.5 * distance_scale, 1.5 * compression, o.distance_trend, 100, rng)},
        {"train", synthetic_distances(base, 2.3 * distance_scale, 1.5 * compression, o.distance_trend, 1000, rng)}};
    model["robust_accuracy"] = {{"before", 0.02 + 0.01 * compression},
                                {"after", 0.5 + 0.05 * o.distance_trend * compression},
                                {"eps", 0.1}};
    model["adv_examples"] = 10000;
  }
  return model;
}

// A SET of the OutlierAttack: success against queries 1 - exp(-q / tau) with Wilson intervals.
json synthetic_set(int n, double tau, double margin, double rays_median) {
  json curve = json::array();
  for (double q : {10.0, 30.0, 100.0, 300.0, 1000.0}) {
    const auto successes = static_cast<std::int64_t>(std::lround(n * (1 - std::exp(-q / tau))));
    const auto w = experiments::wilson_interval(successes, n);
    curve.push_back({q, w.estimate, w.low, w.high});
  }
  const auto measure = [](double median) {
    return json{{"mean", 1.1 * median}, {"median", median}, {"mean_ci95", {0.9 * median, 1.3 * median}}};
  };
  return {{"n", n}, {"median_margin", margin}, {"success_vs_queries", curve},
          {"median_queries", std::round(tau * std::log(2.0))}, {"rays_linf", measure(rays_median)},
          {"whitebox_l2", measure(12 * rays_median)}, {"whitebox_linf", measure(0.8 * rays_median)}};
}

}  // namespace

json synthetic_results(const SyntheticOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::lognormal_distribution<double> base_distance(std::log(0.6), 0.3);
  std::vector<double> base(static_cast<std::size_t>(o.samples));
  for (auto& b : base) b = base_distance(rng);

  json results;
  results["run"] = {{"name", "synthetic-demo"}, {"preset", "synthetic (made-up numbers, for the report's tests)"},
                    {"seconds", 812.5}, {"cpu", "none: synthetic data"}, {"threads", 2}, {"git", "-"},
                    {"started", "2026-12-02T17:00:00Z"}, {"config", {{"samples", o.samples}}}};

  // The pruning ladder: sparsity 0, 0.5, 0.75, ... of a 270k-parameter dense model.
  json prune = {{"name", "prune-global"}, {"kind", "prune"}, {"x_label", "sparsity"}, {"models", json::array()}};
  for (int k = 0; k < o.models_per_ladder; ++k) {
    const double sparsity = k == 0 ? 0.0 : 1 - std::pow(0.5, k), capacity = 270000 * (1 - sparsity);
    const std::string name = k == 0 ? "dense" : fmt::format("rung-{:g}", sparsity);
    prune["models"].push_back(
        synthetic_model(name, sparsity, capacity, std::log(270000 / capacity), o, base, 1.0, rng));
  }
  results["ladders"] = json::array({prune});

  // The depth ladder: ResNet-20, 32, 44, 56, 110, ... (less capacity to the left).
  if (o.depth_ladder) {
    json depth = {{"name", "depth"}, {"kind", "depth"}, {"x_label", "depth"}, {"models", json::array()}};
    const std::vector<int> depths = {20, 32, 44, 56, 110, 164, 218};
    const double largest = 270000.0 * depths[o.models_per_ladder - 1] / 20;
    for (int k = 0; k < o.models_per_ladder; ++k) {
      const double capacity = 270000.0 * depths[k] / 20;
      depth["models"].push_back(synthetic_model(fmt::format("resnet{}", depths[k]), depths[k], capacity,
                                                std::log(largest / capacity), o, base, 1.1, rng));
    }
    results["ladders"].push_back(depth);
  }

  results["memorisation"] = nullptr;
  if (o.memorisation) {
    SyntheticOptions flat = o;
    flat.after = false;
    json memo = synthetic_model("memorisation", 0, 270000, 0, flat, base, 0.3, rng);
    memo["train_accuracy"] = 0.998;
    memo["test_accuracy"] = 0.503;
    results["memorisation"] = memo;
  }

  results["outlier"] = json::array();
  if (o.outlier) {
    const std::string b = prune["models"].back()["name"];
    json pair = {{"a", "dense"}, {"b", b}};
    pair["sets"] = {{"S", synthetic_set(40, 60, 1.1, 0.021)},      {"R", synthetic_set(40, 300, 4.2, 0.048)},
                    {"M", synthetic_set(40, 120, 1.2, 0.030)},     {"S_test", synthetic_set(30, 100, 1.0, 0.026)},
                    {"R_test", synthetic_set(30, 320, 4.0, 0.050)}, {"M_test", synthetic_set(30, 150, 1.1, 0.032)}};
    pair["comparisons"] = json::array(
        {{{"measure", "rays_linf"}, {"x", "S"}, {"y", "M"}, {"test", "mann_whitney"}, {"p_value", 0.004},
          {"p_holm", 0.016}, {"shift", -0.008}, {"shift_ci95", {-0.013, -0.003}}, {"n_x", 40}, {"n_y", 40}},
         {{"measure", "rays_linf"}, {"x", "S"}, {"y", "R"}, {"test", "mann_whitney"}, {"p_value", 0.0002},
          {"p_holm", 0.0008}, {"shift", -0.025}, {"shift_ci95", {-0.031, -0.019}}, {"n_x", 40}, {"n_y", 40}},
         {{"measure", "square_success@100"}, {"x", "S"}, {"y", "M"}, {"test", "fisher"}, {"p_value", 0.03},
          {"p_holm", 0.06}, {"odds_ratio", 2.8}, {"rate_x", 0.81}, {"rate_y", 0.56}},
         {{"measure", "rays_linf"}, {"x", "S_test"}, {"y", "M_test"}, {"test", "mann_whitney"}, {"p_value", 0.2},
          {"p_holm", 0.2}, {"shift", -0.004}, {"shift_ci95", {-0.011, 0.002}}, {"n_x", 30}, {"n_y", 30}}});
    pair["margin_adjusted"] = {
        {"measure", "log rays_linf"}, {"coefficient_S", -0.3}, {"ci95", {-0.5, -0.1}}, {"p_value", 0.002}, {"n", 80}};
    results["outlier"].push_back(pair);
  }

  results["checks"] = json::array(
      {{{"name", "unbounded attacks reach 100%"}, {"model", "dense"}, {"passed", true}, {"detail", "CW-L2 30/30"}},
       {{"name", "more iterations never give larger distances"}, {"model", "rung-0.5"}, {"passed", true},
        {"detail", "CW-L2 1000 vs 100 iterations: median 0.61 vs 0.64"}},
       {{"name", "black-box and noise attacks weaker than white-box"}, {"model", "rung-0.875"},
        {"passed", !o.failed_check},
        {"detail", o.failed_check ? "Square Linf median 0.031 below CW-Linf 0.034: possible gradient masking"
                                  : "Square Linf median 0.052 above CW-Linf 0.034"}},
       {{"name", "success grows with eps"}, {"model", "dense"}, {"passed", true}, {"detail", "PGD 0.12 -> 0.57 -> 1.0"}}});
  return results;
}

}  // namespace oa::test
