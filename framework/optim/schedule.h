#pragma once
// Learning-rate schedules, evaluated per optimiser step (step in [0, total_steps)).
#include <cstdint>
#include <string>

namespace oa::optim {

// Cosine annealing from max_lr to 0: lr = max_lr * (1 + cos(pi * step / total)) / 2.
double cosine_lr(std::int64_t step, std::int64_t total_steps, double max_lr);

// One-cycle (Smith & Topin 2017; PyTorch's OneCycleLR with cosine annealing): rises from
// max_lr / div_factor to max_lr over the first pct_start of the steps, then falls to
// max_lr / (div_factor * final_div_factor).
double one_cycle_lr(std::int64_t step, std::int64_t total_steps, double max_lr, double pct_start = 0.3,
                    double div_factor = 25.0, double final_div_factor = 1e4);

// By name: "cosine", "one-cycle" or "constant".
double scheduled_lr(const std::string& schedule, std::int64_t step, std::int64_t total_steps, double max_lr);

}  // namespace oa::optim
