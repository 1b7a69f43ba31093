// The summary statistics that run_cw reports (experiments/common/statistics.h).
#include <doctest/doctest.h>

#include <random>

#include "experiments/common/statistics.h"

using oa::experiments::summarize;

TEST_CASE("summarize: mean, median and a bootstrap interval around the mean") {
  const auto odd = summarize({3.0, 1.0, 2.0});
  CHECK(odd.count == 3);
  CHECK(odd.mean == doctest::Approx(2.0));
  CHECK(odd.median == doctest::Approx(2.0));
  CHECK(summarize({4.0, 1.0, 3.0, 2.0}).median == doctest::Approx(2.5));

  std::mt19937 rng(3);
  std::normal_distribution<double> normal(5.0, 1.0);
  std::vector<double> values(400);
  for (auto& v : values) v = normal(rng);
  const auto s = summarize(values);
  CHECK(s.mean_ci_low < s.mean);
  CHECK(s.mean < s.mean_ci_high);
  // The standard error is 1/sqrt(400) = 0.05: the 95% interval is about +-0.1 wide.
  CHECK(s.mean_ci_high - s.mean_ci_low == doctest::Approx(0.196).epsilon(0.2));
  const auto again = summarize(values);
  CHECK(again.mean_ci_low == s.mean_ci_low);  // seeded: reproducible
  CHECK(summarize({}).count == 0);
}
