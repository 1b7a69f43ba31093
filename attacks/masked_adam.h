#pragma once
// Adam (Kingma & Ba 2015) for attacks that optimise one perturbation per sample (the CW
// attacks); internal to attacks/. It updates the rows of w [N, D], one row per sample, each
// with its own step count, so that a sample can restart (reset_sample) or sit still (not
// active) without touching the others:
//     m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   w <- w - lr m^ / (sqrt(v^) + eps)
// with the bias corrections m^ = m / (1 - b1^t), v^ = v / (1 - b2^t).
#include <cstdint>
#include <vector>

namespace oa::attacks::detail {

struct MaskedAdam {
  std::vector<double> m, v;
  std::vector<std::int64_t> t;  // steps taken, per sample
  std::int64_t dim;
  double lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;

  MaskedAdam(std::int64_t n, std::int64_t dim, double lr);
  // Forgets sample i's moments and step count.
  void reset_sample(std::int64_t i);
  // One step on the rows of w whose sample is active.
  void step(std::vector<double>& w, const std::vector<double>& grad, const std::vector<bool>& active);
};

}  // namespace oa::attacks::detail
