// CUDA CW margin over the rows of logits x[N, C] and its backward: the twins of
// framework/backend/cpu/margin.cpp. The backward writes every element of its [N, C] output
// in one pass.
#include <cmath>
#include <cstdint>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/kernels.h"
#include "framework/backend/elementwise_math.h"

namespace oa::cuda {

namespace {

// margin[i] = x[i, y_i] - max_{j != y_i} x[i, j], runner_up[i] = that j. One thread per row
// runs the CPU's loop as it is, so the runner-up is the same: the first of equal maxima, and
// the first candidate column is taken whatever its value (even -inf or NaN), and the first NaN
// stays (math::beats_max).
template <class T>
__global__ void margin_forward_kernel(const T* x, const std::int64_t* labels, T* margin, std::int64_t* runner_up,
                                      std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i = thread_index(); i < rows; i += thread_count()) {
    const T* row = x + i * cols;
    const std::int64_t label = labels[i];
    T best = -static_cast<T>(INFINITY);
    std::int64_t arg = -1;
    for (std::int64_t j = 0; j < cols; ++j)
      if (j != label && (math::beats_max(row[j], best) || arg < 0)) best = row[j], arg = j;
    margin[i] = label >= 0 && label < cols ? row[label] - best : static_cast<T>(NAN);  // (check_labels)
    runner_up[i] = arg;
  }
}

// grad_x[i, j] = [j == y_i] g_i - [j == runner_up_i] g_i, accumulated in the CPU's order
// (0, += g at the label, -= g at the runner-up)
template <class T>
__global__ void margin_backward_kernel(const T* grad_margin, const std::int64_t* labels,
                                       const std::int64_t* runner_up, T* grad_x, std::int64_t rows,
                                       std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t e = thread_index(); e < n; e += thread_count()) {
    const std::int64_t i = e / cols, j = e % cols;
    const T g = grad_margin[i];
    T v = 0;
    if (j == labels[i]) v += g;
    if (j == runner_up[i]) v -= g;
    grad_x[e] = v;
  }
}

}  // namespace

void margin_forward(const Tensor& x, const Tensor& labels, Tensor& margin, Tensor& runner_up) {
  dispatch_floating(x.dtype(), "margin", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    const T* px = x.data<T>();
    const std::int64_t* py = labels.data<std::int64_t>();
    T* pm = margin.data<T>();
    std::int64_t* pr = runner_up.data<std::int64_t>();
    if (rows == 0) return;
    margin_forward_kernel<T><<<blocks_for(rows), kThreads, 0, stream()>>>(px, py, pm, pr, rows, cols);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void margin_backward(const Tensor& grad_margin, const Tensor& labels, const Tensor& runner_up, Tensor& grad_x) {
  dispatch_floating(grad_x.dtype(), "margin backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = grad_x.size(0), cols = grad_x.size(1);
    const T* pg = grad_margin.data<T>();
    const std::int64_t* py = labels.data<std::int64_t>();
    const std::int64_t* pr = runner_up.data<std::int64_t>();
    T* pgx = grad_x.data<T>();
    const std::int64_t n = rows * cols;
    if (n == 0) return;
    margin_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(pg, py, pr, pgx, rows, cols);
    OA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace oa::cuda
