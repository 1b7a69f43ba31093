#pragma once
// The per-element optimiser updates, shared by the CPU loop (cpu/optim.cpp) and the CUDA
// kernel (cuda/optim.cu), so both back ends run the same expressions in the same order.
#include <cmath>

#include "framework/backend/elementwise_math.h"  // OA_HOST_DEVICE

namespace oa::backend {

// SGD: d = g + wd p;  buf = momentum buf + d;  p -= lr (nesterov ? d + momentum buf : buf).
// Without momentum there is no buffer (null): p -= lr d.
template <class T>
OA_HOST_DEVICE inline void sgd_update(T& p, T g, T* buf, T lr, T momentum, bool nesterov, T weight_decay) {
  T d = g + weight_decay * p;
  if (buf) {
    *buf = momentum * *buf + d;
    d = nesterov ? d + momentum * *buf : *buf;
  }
  p -= lr * d;
}

// Adam: d = g + wd p;  m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;
// p -= step_size m / (sqrt(v v_correction) + eps), where the caller folds the bias
// corrections into step_size = lr / (1 - b1^t) and v_correction = 1 / (1 - b2^t).
template <class T>
OA_HOST_DEVICE inline void adam_update(T& p, T g, T& m, T& v, T b1, T b2, T weight_decay, T eps, T step_size,
                                       T v_correction) {
  const T d = g + weight_decay * p;
  m = b1 * m + (1 - b1) * d;
  v = b2 * v + (1 - b2) * d * d;
  p -= step_size * m / (std::sqrt(v * v_correction) + eps);
}

}  // namespace oa::backend
