#pragma once
// Carlini-Wagner L2 (Carlini & Wagner 2017, arXiv 1608.04644), batched, per-sample constants.
//
// For each sample, minimise over w (x' = (tanh(w) + 1) / 2 stays in the [0, 1] box):
//     || x' - x ||_2^2 + c * max(Z_y(x') - max_{j != y} Z_j(x') + kappa, 0)      (untargeted)
//     (targeted: the margin of the target t is reversed, max_{j != t} Z_j - Z_t + kappa)
// with Adam. The constant c is searched per sample: x10 until an adversarial example is found,
// then bisection between the largest failing and the smallest succeeding c. The smallest
// successful perturbation over every iterate of every search step is kept. Abort-early is per
// sample: a sample whose loss stopped decreasing (checked every tenth of the iterations) stops
// being updated for the rest of the search step.
#include <cstdint>

#include "attacks/adversarial.h"

namespace oa::attacks {

struct CwL2Options {
  std::int64_t search_steps = 9;
  std::int64_t iterations = 10000;
  double c0 = 1e-3;
  double lr = 1e-2;
  double kappa = 0.0;  // confidence
  bool targeted = false;
  bool abort_early = true;
  // The paper resets the perturbation and Adam at every search step; warm start keeps both
  // (much stronger under short budgets).
  bool warm_start = false;
};

// x: clean inputs [N, C, H, W] in [0, 1]; labels: the true labels (untargeted) or the
// targets (targeted). The model is used in eval mode with frozen parameters (its
// requires_grad flags are restored afterwards). The result is verified (adversarial.h).
AttackOutput cw_l2(nn::Module& model, const Tensor& x, const Tensor& labels, const CwL2Options& options);

}  // namespace oa::attacks
