// The verdicts on H1-H5 (experiments/study/verdicts.h) on hand-built results.json whose answer
// is known.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "experiments/study/verdicts.h"

using nlohmann::json;
using namespace oa::study;

namespace {

// A DIST over the samples 0..n-1: a NaN distance is a failed attack (null, success false).
json dist(const std::vector<double>& distances) {
  json d = {{"indices", json::array()}, {"l2", json::array()}, {"linf", json::array()},
            {"success_l2", json::array()}, {"success_linf", json::array()}};
  for (std::size_t i = 0; i < distances.size(); ++i) {
    const bool ok = std::isfinite(distances[i]);
    d["indices"].push_back(i);
    d["l2"].push_back(ok ? json(distances[i]) : json(nullptr));
    d["linf"].push_back(ok ? json(distances[i] / 20) : json(nullptr));
    d["success_l2"].push_back(ok);
    d["success_linf"].push_back(ok);
  }
  return d;
}

json model(const std::string& name, double capacity, double gap) {
  return {{"name", name}, {"capacity", capacity}, {"train_accuracy", 0.9 + gap}, {"test_accuracy", 0.9}};
}

json ladder(const std::string& name, const std::string& kind, const json& models) {
  return {{"name", name}, {"kind", kind}, {"models", models}};
}

const std::vector<double> kCapacities = {100000, 50000, 25000, 12500, 6250, 3125};

// A prune ladder of `models` rungs whose per-sample distances change by `trend` per unit of
// ln(dense capacity / capacity), plus Gaussian noise of relative size `noise`.
json distance_ladder(int models, int samples, double trend, double noise, const std::string& stage = "before",
                     std::uint64_t seed = 5) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> base(std::log(0.5), 0.3);
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::vector<double> bases(samples);
  for (auto& b : bases) b = base(rng);
  json list = json::array();
  for (int m = 0; m < models; ++m) {
    const double compression = std::log(kCapacities[0] / kCapacities[m]);
    std::vector<double> test, train;
    for (int i = 0; i < samples; ++i) {
      test.push_back(bases[i] * (1 + trend * compression) * (1 + noise * gauss(rng)));
      train.push_back(bases[i] * (1 + trend * compression) * (1 + noise * gauss(rng)));
    }
    if (m == 1) test[3] = NAN;  // a failed attack: that sample drops out of the pairing
    json mod = model(fmt::format("m{}", m), kCapacities[m], 0.01);
    mod["attacks"][stage] = {{"test", dist(test)}, {"train", dist(train)}};
    list.push_back(mod);
  }
  return {{"ladders", {ladder("prune-global", "prune", list)}}};
}

json gap_ladder(const std::string& name, const std::string& kind, const std::vector<double>& gaps) {
  json models = json::array();
  for (std::size_t m = 0; m < gaps.size(); ++m) models.push_back(model(fmt::format("{}{}", name, m), kCapacities[m], gaps[m]));
  return ladder(name, kind, models);
}

}  // namespace

TEST_CASE("combining cells: support needs no contradiction") {
  CHECK(combine_verdicts({"supported", "inconclusive"}) == "supported");
  CHECK(combine_verdicts({"supported", "not supported"}) == "inconclusive");
  CHECK(combine_verdicts({"not supported", "inconclusive"}) == "not supported");
  CHECK(combine_verdicts({"inconclusive"}) == "inconclusive");
  CHECK(combine_verdicts({}) == "inconclusive");
}

TEST_CASE("H1: the gap against capacity") {
  // Capacity falls along the ladder; a gap that falls with it is the hypothesis.
  const json down = {{"ladders", {gap_ladder("prune", "prune", {0.06, 0.05, 0.04, 0.03, 0.02, 0.01})}}};
  const auto supported = verdict_h1(down);
  CHECK(supported.verdict == "supported");
  CHECK(supported.statistic.find("Kendall tau(capacity, gap) = 1") != std::string::npos);
  CHECK(supported.statistic.find("n = 6 models") != std::string::npos);
  CHECK(supported.details["cells"][0]["p_value"].get<double>() == doctest::Approx(2.0 / 720));

  const json up = {{"ladders", {gap_ladder("prune", "prune", {0.01, 0.02, 0.03, 0.04, 0.05, 0.06})}}};
  CHECK(verdict_h1(up).verdict == "not supported");

  // Five models and no order: no trend.
  const json flat = {{"ladders", {gap_ladder("prune", "prune", {0.03, 0.05, 0.01, 0.04, 0.02})}}};
  const auto none = verdict_h1(flat);
  CHECK(none.verdict == "not supported");
  CHECK(none.details["reason"].get<std::string>().find("no trend") != std::string::npos);

  // Four noisy models, or three: too few to call.
  CHECK(verdict_h1({{"ladders", {gap_ladder("prune", "prune", {0.03, 0.05, 0.01, 0.04})}}}).verdict == "inconclusive");
  CHECK(verdict_h1({{"ladders", {gap_ladder("prune", "prune", {0.03, 0.02, 0.01})}}}).verdict == "inconclusive");

  // A depth ladder that agrees keeps the support; a significant reversal there contradicts it.
  json both = down;
  both["ladders"].push_back(gap_ladder("depth", "depth", {0.05, 0.04, 0.03, 0.02, 0.01, 0.0}));
  CHECK(verdict_h1(both).verdict == "supported");
  both["ladders"][1] = gap_ladder("depth", "depth", {0.0, 0.01, 0.02, 0.03, 0.04, 0.05});
  CHECK(verdict_h1(both).verdict == "inconclusive");
  // A depth ladder without a trend does not contradict.
  both["ladders"][1] = gap_ladder("depth", "depth", {0.03, 0.05, 0.01, 0.04, 0.02});
  CHECK(verdict_h1(both).verdict == "supported");
}

TEST_CASE("H2: a clear trend, its reverse, none, and noise with few models") {
  const auto grows = verdict_h2(distance_ladder(5, 30, 0.2, 0.03));
  CHECK(grows.verdict == "supported");
  const auto& cell = grows.details["cells"][0];
  CHECK(cell["label"] == "prune-global L2 test");
  CHECK(cell["paired_samples"] == 29);  // sample 3 failed on one model
  CHECK(cell["mean_slope"].get<double>() < 0);
  CHECK(cell["kendall_tau_of_means"].get<double>() == doctest::Approx(-1.0));
  CHECK(grows.statistic.find("n = 29 samples × 5 models") != std::string::npos);
  CHECK(grows.statistic.find("slope vs ln(capacity) = -") != std::string::npos);

  CHECK(verdict_h2(distance_ladder(5, 30, -0.1, 0.03)).verdict == "not supported");

  // Flat and precise: the interval rules out any 5% change across the ladder.
  const auto flat = verdict_h2(distance_ladder(5, 30, 0.0, 0.002));
  CHECK(flat.verdict == "not supported");
  CHECK(flat.details["reason"].get<std::string>().find("no trend") != std::string::npos);

  // Three models with 50% noise on six samples: the interval is wide.
  const auto noisy = verdict_h2(distance_ladder(3, 6, 0.0, 0.5));
  CHECK(noisy.verdict == "inconclusive");
  // Too few models, too few paired samples.
  CHECK(verdict_h2(distance_ladder(2, 30, 0.2, 0.03)).verdict == "inconclusive");
  const auto few = verdict_h2(distance_ladder(5, 4, 0.2, 0.03));
  CHECK(few.verdict == "inconclusive");
  CHECK(few.details["reason"].get<std::string>().find("5 needed") != std::string::npos);
}

TEST_CASE("H3: H2's test after fine-tuning, not run without it") {
  const auto missing = verdict_h3(distance_ladder(5, 30, 0.2, 0.03, "before"));
  CHECK(missing.verdict == "inconclusive");
  CHECK(missing.details["reason"].get<std::string>().find("not run") != std::string::npos);
  CHECK(verdict_h3(distance_ladder(5, 30, 0.2, 0.03, "after")).verdict == "supported");
}

TEST_CASE("H4: the margin-adjusted coefficient of S") {
  const auto pair = [](double low, double high) {
    return json{{"outlier",
                 {{{"a", "dense"},
                   {"b", "rung-0.9"},
                   {"margin_adjusted", {{"coefficient_S", (low + high) / 2}, {"ci95", {low, high}}, {"n", 80}}},
                   {"comparisons",
                    {{{"measure", "rays_linf"}, {"x", "S"}, {"y", "M"}, {"p_holm", 0.01}},
                     {{"measure", "rays_linf"}, {"x", "S"}, {"y", "R"}, {"p_holm", 0.01}}}}}}}};
  };
  const auto easier = verdict_h4(pair(-0.5, -0.1));
  CHECK(easier.verdict == "supported");
  CHECK(easier.details["cells"][0]["s_vs_m"].size() == 1);
  CHECK(easier.statistic.find("[-0.5, -0.1]") != std::string::npos);
  CHECK(verdict_h4(pair(0.1, 0.5)).verdict == "not supported");
  CHECK(verdict_h4(pair(-0.2, 0.3)).verdict == "inconclusive");
  CHECK(verdict_h4({{"outlier", {{{"a", "dense"}, {"b", "x"}}}}}).verdict == "inconclusive");
}

TEST_CASE("H5: the memorising model against every ladder model") {
  json results = distance_ladder(4, 30, 0.0, 0.05);
  std::vector<double> small(30), large(30);
  for (int i = 0; i < 30; ++i) small[i] = 0.05 + 0.001 * i, large[i] = 5 + 0.01 * i;
  results["memorisation"] = model("memorisation", 100000, 0.5);
  results["memorisation"]["attacks"]["before"]["train"] = dist(small);
  const auto lowest = verdict_h5(results);
  CHECK(lowest.verdict == "supported");
  CHECK(lowest.details["cells"][0]["comparisons"].size() == 4);
  CHECK(lowest.statistic.find("largest Holm p") != std::string::npos);

  results["memorisation"]["attacks"]["before"]["train"] = dist(large);
  CHECK(verdict_h5(results).verdict == "not supported");

  results["memorisation"]["attacks"]["before"]["train"] = dist({0.1, 0.2});
  CHECK(verdict_h5(results).verdict == "inconclusive");
  results["memorisation"] = nullptr;
  CHECK(verdict_h5(results).details["reason"].get<std::string>().find("not run") != std::string::npos);
}

TEST_CASE("missing or malformed sections: inconclusive with a reason, never a throw") {
  for (const json& results :
       {json::object(), json{{"ladders", 3}, {"memorisation", "x"}, {"outlier", {{"a", 1}}}},
        json{{"ladders", {{{"models", {{{"capacity", "abc"}}, nullptr, 4}}}}}},
        json{{"ladders", {ladder("p", "prune", {{{"name", "m"}, {"capacity", 5}, {"attacks", {{"before", 7}}}}})}}},
        json::array(), json(nullptr)}) {
    std::vector<Verdict> verdicts;
    REQUIRE_NOTHROW(verdicts = compute_verdicts(results));
    REQUIRE(verdicts.size() == 5);
    for (const auto& v : verdicts) {
      CHECK(v.verdict == "inconclusive");
      CHECK(!v.statistic.empty());
      CHECK(!v.details["reason"].get<std::string>().empty());
      CHECK(to_json(v)["id"] == v.id);
    }
  }
}
