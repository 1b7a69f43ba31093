#pragma once
// Summary statistics for per-sample results.
#include <cstdint>
#include <vector>

namespace oa::experiments {

struct Summary {
  std::int64_t count = 0;
  double mean = 0, median = 0;
  double mean_ci_low = 0, mean_ci_high = 0;  // bootstrap 95% interval of the mean
};

// Mean, median and a percentile-bootstrap 95% confidence interval of the mean
// (`resamples` resamples, seeded: the same values give the same interval).
Summary summarize(const std::vector<double>& values, std::int64_t resamples = 2000, std::uint64_t seed = 0);

}  // namespace oa::experiments
