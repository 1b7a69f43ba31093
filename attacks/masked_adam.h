#pragma once
// Adam (Kingma & Ba 2015) for attacks that optimise one perturbation per sample (the CW
// attacks); internal to attacks/. It updates the rows of w [N, ...], one row per sample, each
// with its own step count, so that a sample can restart (reset) or sit still (not active)
// without touching the others:
//     m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   w <- w - lr m^ / (sqrt(v^) + eps)
// with the bias corrections m^ = m / (1 - b1^t), v^ = v / (1 - b2^t). The moments live with
// w (on the GPU for a GPU attack); only the N step counts are kept on the host.
#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::attacks::detail {

class MaskedAdam {
 public:
  // Moments shaped, typed and placed like `w`.
  MaskedAdam(const Tensor& w, double lr);
  // Forgets the moments and step counts of the samples where `which` is true.
  void reset(const std::vector<bool>& which);
  // One step on the rows of w whose sample is active.
  void step(Tensor& w, const Tensor& grad, const std::vector<bool>& active);

 private:
  Tensor m_, v_;
  std::vector<std::int64_t> t_;  // steps taken, per sample
  double lr_, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8;
};

}  // namespace oa::attacks::detail
