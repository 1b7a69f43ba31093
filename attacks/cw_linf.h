#pragma once
// Carlini-Wagner L-infinity (Carlini & Wagner 2017, arXiv 1608.04644), batched: every sample
// has its own tau, constant c and Adam state.
//
// The L-infinity norm is a poor loss for gradient descent (its gradient touches one pixel
// only), so the paper penalises every coordinate that exceeds a threshold tau instead:
//     minimise over delta   c * max(m(x + delta) + kappa, 0) + sum_i max(|delta_i| - tau, 0)
// where m is the margin Z_y - max_{j != y} Z_j (targeted: max_{j != t} Z_j - Z_t). For one
// (tau, c), Adam runs until the iterate is adversarial with every |delta_i| < tau (the problem
// is solved), at most `iterations` steps; unsolved, c doubles (from c0 up to c_max, then the
// sample stops). Once solved, tau shrinks to
//     tau <- tau_decrease * min(tau, max_i |delta_i|)
// and the next problem starts from the current delta (warm start) with a fresh Adam and the
// same c. The sample stops when tau falls below tau_min or after max_steps Adam steps. The
// adversarial iterate with the smallest L-infinity distance over every step is reported, and
// verified (adversarial.h).
//
// Unlike CW-L2 (and the paper's code), delta is optimised directly and x + delta clipped to
// [0, 1] after every step, without the tanh change of variables: in tanh space a pixel at 0
// or 1 needs hundreds of Adam steps to move by 0.01, while the L-infinity optimum moves
// almost every pixel by the same amount. On Fashion-MNIST (black backgrounds) the tanh form
// ended 5x above PGD's L-infinity distance after 1000 steps; this form within a few percent.
#include <cstdint>

#include "attacks/adversarial.h"

namespace oa::attacks {

struct CwLinfOptions {  // defaults: the paper's, but for lr
  std::int64_t iterations = 1000;  // Adam steps per (tau, c) before c doubles
  // In pixel units. (The paper's 5e-3 is in tanh units, about 2.5e-3 per pixel at mid-grey;
  // here 1e-3 ended 20% closer to the minimum on Fashion-MNIST.)
  double lr = 1e-3;
  double c0 = 1e-5;
  double c_max = 20;
  double tau0 = 1.0;
  double tau_decrease = 0.9;
  double tau_min = 1.0 / 256;
  std::int64_t max_steps = 0;  // most Adam steps per sample over the whole attack; 0: no cap
  double kappa = 0.0;          // confidence
  bool targeted = false;
};

// x: clean inputs [N, C, H, W] in [0, 1]; labels: the true labels (untargeted) or the targets
// (targeted). The model is used in eval mode with frozen parameters (restored afterwards).
// SampleResult::c is the constant of the last solved (tau, c) problem (0 if none was).
AttackOutput cw_linf(nn::Module& model, const Tensor& x, const Tensor& labels, const CwLinfOptions& options);

}  // namespace oa::attacks
