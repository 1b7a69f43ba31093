// log_softmax over the rows of logits x[N, C], forward and backward.
#include <cmath>

#include "framework/backend/cpu/kernels.h"

namespace oa::cpu {

// y = (x - max(x)) - log(sum(exp(x - max(x))))
// Shifting by the max avoids overflow; subtracting it before the log term (not as one
// log-normaliser) keeps float32 precision when the logits are large.
void log_softmax_forward(const Tensor& x, Tensor& y) {
  dispatch_floating(x.dtype(), "log_softmax", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    const T* px = x.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* row = px + i * cols;
      T mx = row[0];
      for (std::int64_t j = 1; j < cols; ++j) mx = std::max(mx, row[j]);
      T sum = 0;
      for (std::int64_t j = 0; j < cols; ++j) sum += std::exp(row[j] - mx);
      const T log_sum = std::log(sum);
      for (std::int64_t j = 0; j < cols; ++j) py[i * cols + j] = (row[j] - mx) - log_sum;
    }
  });
}

// dx = dy - softmax(x) * sum(dy), with softmax = exp(y)
void log_softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  dispatch_floating(y.dtype(), "log_softmax backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = y.size(0), cols = y.size(1);
    const T* py = y.data<T>();
    const T* pg = grad_y.data<T>();
    T* pgx = grad_x.data<T>();
    for (std::int64_t i = 0; i < rows; ++i) {
      T sum = 0;
      for (std::int64_t j = 0; j < cols; ++j) sum += pg[i * cols + j];
      for (std::int64_t j = 0; j < cols; ++j) pgx[i * cols + j] = pg[i * cols + j] - std::exp(py[i * cols + j]) * sum;
    }
  });
}

}  // namespace oa::cpu
