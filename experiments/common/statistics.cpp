#include "experiments/common/statistics.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace oa::experiments {

namespace {
double median_of(std::vector<double> v) {
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  if (v.size() % 2) return v[mid];
  return (v[mid] + *std::max_element(v.begin(), v.begin() + mid)) / 2;
}
}  // namespace

Summary summarize(const std::vector<double>& values, std::int64_t resamples, std::uint64_t seed) {
  Summary s;
  s.count = static_cast<std::int64_t>(values.size());
  if (values.empty()) return s;
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  s.median = median_of(values);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
  std::vector<double> means(static_cast<std::size_t>(resamples));
  for (auto& m : means) {
    double total = 0;
    for (std::size_t k = 0; k < values.size(); ++k) total += values[pick(rng)];
    m = total / static_cast<double>(values.size());
  }
  std::sort(means.begin(), means.end());
  s.mean_ci_low = means[static_cast<std::size_t>(0.025 * static_cast<double>(resamples - 1))];
  s.mean_ci_high = means[static_cast<std::size_t>(0.975 * static_cast<double>(resamples - 1))];
  return s;
}

}  // namespace oa::experiments
