#pragma once
// Decoupled Direction and Norm (Rony et al. 2019, arXiv 1811.09600), an L2 minimal-distance
// attack, batched: every sample has its own norm eps.
//
// The perturbation's direction and its norm are updated separately. Each step k:
//     g      = grad of the cross-entropy of label y at x + delta   (targeted: minus that of t)
//     delta <- delta + alpha_k * g / ||g||_2                        (the direction)
//     eps   <- eps * (1 - gamma) if x + delta was adversarial, else eps * (1 + gamma)
//     delta <- eps * delta / ||delta||_2                            (the norm: onto the eps-sphere)
//     delta <- clip(x + delta, 0, 1) - x                            (the box)
// eps starts at init_norm (and never exceeds the farthest point of the box from x); the step
// alpha_k is cosine-annealed from alpha_max to alpha_min. Near the boundary eps oscillates by
// factors (1 -+ gamma) around the minimal norm along the current direction. The adversarial
// iterate with the smallest L2 distance over all steps is reported, and verified.
#include <cstdint>

#include "attacks/adversarial.h"

namespace oa::attacks {

struct DdnOptions {
  std::int64_t steps = 100;
  double gamma = 0.05;
  double init_norm = 1.0;
  double alpha_max = 1.0, alpha_min = 0.01;
  bool targeted = false;
};

// x: clean inputs [N, C, H, W] in [0, 1]; labels: the true labels (untargeted) or the targets
// (targeted). The model is used in eval mode with frozen parameters (restored afterwards).
AttackOutput ddn(nn::Module& model, const Tensor& x, const Tensor& labels, const DdnOptions& options);

}  // namespace oa::attacks
