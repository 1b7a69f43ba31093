#pragma once
// Fast Minimum-Norm attack, L-infinity (Pintor et al. 2021, arXiv 2102.12827), batched: every
// sample has its own radius eps.
//
// Each step k, with the margin m = Z_y - max_{j != y} Z_j at x + delta (targeted: the
// target's margin, negated) and g its gradient:
//     if x + delta is adversarial:       eps <- min(eps * (1 - gamma_k), best Linf so far)
//     else, once one has been found:      eps <- eps * (1 + gamma_k)
//     else (none found yet):              eps <- ||delta||_inf + (1 + gamma_k) |m| / ||g||_1
//                                         (the first-order distance to the boundary, L1 being
//                                         the dual norm of Linf, overshot by gamma_k: without
//                                         it an iterate that reaches a locally linear boundary
//                                         at the corner of its ball only approaches it, m -> +0,
//                                         and never becomes adversarial)
//     delta <- delta - alpha_k * g / ||g||_2       (towards the boundary, normalised step)
//     delta <- clip(delta, -eps, eps)              (exactly onto the Linf ball of radius eps)
//     delta <- clip(x + delta, 0, 1) - x           (the box)
// eps never exceeds the farthest point of the box from x. alpha_k is cosine-annealed from
// alpha_init to alpha_init / 100 and gamma_k from gamma_init to gamma_final, so the radius
// settles with ever finer steps around the smallest adversarial Linf norm. The adversarial
// iterate with the smallest Linf distance is reported, and verified.
#include <cstdint>

#include "attacks/adversarial.h"

namespace oa::attacks {

struct FmnOptions {
  std::int64_t steps = 200;
  double alpha_init = 1.0;  // the step size, annealed to alpha_init / 100
  double gamma_init = 0.05, gamma_final = 0.001;
  bool targeted = false;
};

// x: clean inputs [N, C, H, W] in [0, 1]; labels: the true labels (untargeted) or the targets
// (targeted). The model is used in eval mode with frozen parameters (restored afterwards).
AttackOutput fmn_linf(nn::Module& model, const Tensor& x, const Tensor& labels, const FmnOptions& options);

}  // namespace oa::attacks
