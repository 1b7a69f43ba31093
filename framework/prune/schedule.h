#pragma once
// The gradual pruning schedule of Zhu & Gupta 2017 ("To prune, or not to prune"): sparsity
// rises from s_i to s_f over n steps, fast at first and slowly at the end,
//     s_t = s_f + (s_i - s_f) * (1 - t / n)^3,   t = 0 .. n
// (after step n it stays at s_f).
#include <algorithm>
#include <cstdint>

namespace oa::prune {

inline double cubic_sparsity(double initial, double final, std::int64_t step, std::int64_t steps) {
  if (steps <= 0 || step >= steps) return final;
  const double remaining = 1.0 - static_cast<double>(std::max<std::int64_t>(step, 0)) / static_cast<double>(steps);
  return final + (initial - final) * remaining * remaining * remaining;
}

}  // namespace oa::prune
