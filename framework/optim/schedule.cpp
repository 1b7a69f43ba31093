#include "framework/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "framework/core/error.h"

namespace oa::optim {

namespace {
// Cosine interpolation from `from` (t = 0) to `to` (t = 1).
double cosine_between(double from, double to, double t) {
  return to + (from - to) * 0.5 * (1.0 + std::cos(std::numbers::pi * std::clamp(t, 0.0, 1.0)));
}
}  // namespace

double cosine_lr(std::int64_t step, std::int64_t total_steps, double max_lr) {
  return cosine_between(max_lr, 0.0, static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, total_steps)));
}

double one_cycle_lr(std::int64_t step, std::int64_t total_steps, double max_lr, double pct_start, double div_factor,
                    double final_div_factor) {
  const double initial = max_lr / div_factor;
  const double final_lr = initial / final_div_factor;
  // PyTorch's phase boundaries: warm-up ends at step pct_start * total - 1, the end at total - 1.
  const double warmup_end = pct_start * static_cast<double>(total_steps) - 1.0;
  const double last = static_cast<double>(total_steps) - 1.0;
  const auto s = static_cast<double>(step);
  if (s <= warmup_end) return cosine_between(initial, max_lr, warmup_end > 0 ? s / warmup_end : 1.0);
  return cosine_between(max_lr, final_lr, (s - warmup_end) / std::max(1.0, last - warmup_end));
}

double scheduled_lr(const std::string& schedule, std::int64_t step, std::int64_t total_steps, double max_lr) {
  if (schedule == "cosine") return cosine_lr(step, total_steps, max_lr);
  if (schedule == "one-cycle") return one_cycle_lr(step, total_steps, max_lr);
  OA_CHECK(schedule == "constant", "unknown learning-rate schedule '{}' (cosine, one-cycle, constant)", schedule);
  return max_lr;
}

}  // namespace oa::optim
