// The CW margin over the rows of logits x[N, C]: the true class logit minus the largest other one.
#include <limits>

#include "framework/backend/cpu/kernels.h"
#include "framework/backend/elementwise_math.h"

namespace oa::cpu {

void margin_forward(const Tensor& x, const Tensor& labels, Tensor& margin, Tensor& runner_up) {
  dispatch_floating(x.dtype(), "margin", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    const T* px = x.data<T>();
    const std::int64_t* py = labels.data<std::int64_t>();
    for (std::int64_t i = 0; i < rows; ++i) {
      T best = -std::numeric_limits<T>::infinity();
      std::int64_t arg = -1;
      for (std::int64_t j = 0; j < cols; ++j)
        if (j != py[i] && (math::beats_max(px[i * cols + j], best) || arg < 0)) best = px[i * cols + j], arg = j;
      margin.data<T>()[i] = px[i * cols + py[i]] - best;
      runner_up.data<std::int64_t>()[i] = arg;
    }
  });
}

// d margin / d x[n, y_n] = 1,  d margin / d x[n, runner_up_n] = -1
void margin_backward(const Tensor& grad_margin, const Tensor& labels, const Tensor& runner_up, Tensor& grad_x) {
  fill(grad_x, 0.0);
  dispatch_floating(grad_x.dtype(), "margin backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t cols = grad_x.size(1);
    T* pgx = grad_x.data<T>();
    for (std::int64_t i = 0; i < grad_x.size(0); ++i) {
      const T g = grad_margin.data<T>()[i];
      pgx[i * cols + labels.data<std::int64_t>()[i]] += g;
      pgx[i * cols + runner_up.data<std::int64_t>()[i]] -= g;
    }
  });
}

}  // namespace oa::cpu
