// CUDA kernels over rows of logits x[N, C]: log-softmax (one warp per row), gather, the CW
// margin, one-hot. Each mirrors its CPU twin in framework/backend/cpu/logits.cpp. The
// backward kernels and one_hot write every element of their [N, C] output (zero where no
// gradient or label lands) in one pass instead of a zero fill followed by a scatter.
#include <cmath>
#include <cstdint>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/kernels.h"

namespace oa::cuda {

namespace {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = kThreads / kWarp;
constexpr unsigned kFullMask = 0xffffffffu;

// Blocks for one warp per row, capped (the kernels loop over the rest).
unsigned blocks_for_rows(std::int64_t rows) {
  const std::int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 ? 65535 : blocks));
}

// The larger of a and b, ignoring a NaN (the other one wins), so that the warp maximum is
// the same in every lane. A NaN in a row still makes the whole row NaN, through its exp.
template <class T>
__device__ inline T max_ignoring_nan(T a, T b) {
  return (b > a || a != a) ? b : a;
}

// Sum and maximum over the 32 lanes of a warp (butterfly: every lane gets the result).
template <class T>
__device__ inline T warp_sum(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}
template <class T>
__device__ inline T warp_max(T v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v = max_ignoring_nan(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// y = (x - max(x)) - log(sum(exp(x - max(x)))), one warp per row: the lanes stride over
// the row's columns. The row loop depends only on the warp, so whole warps shuffle together.
template <class T>
__global__ void log_softmax_kernel(const T* x, T* y, std::int64_t rows, std::int64_t cols) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const std::int64_t warp = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t r = warp; r < rows; r += warps) {
    const T* row = x + r * cols;
    T mx = -static_cast<T>(INFINITY);
    for (std::int64_t j = lane; j < cols; j += kWarp) mx = max_ignoring_nan(mx, row[j]);
    mx = warp_max(mx);
    T sum = 0;
    for (std::int64_t j = lane; j < cols; j += kWarp) sum += std::exp(row[j] - mx);
    sum = warp_sum(sum);
    const T log_sum = std::log(sum);
    for (std::int64_t j = lane; j < cols; j += kWarp) y[r * cols + j] = (row[j] - mx) - log_sum;
  }
}

// dx = dy - exp(y) * sum(dy), one warp per row
template <class T>
__global__ void log_softmax_backward_kernel(const T* y, const T* grad_y, T* grad_x, std::int64_t rows,
                                            std::int64_t cols) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const std::int64_t warp = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t r = warp; r < rows; r += warps) {
    const std::int64_t begin = r * cols;
    T sum = 0;
    for (std::int64_t j = lane; j < cols; j += kWarp) sum += grad_y[begin + j];
    sum = warp_sum(sum);
    for (std::int64_t j = lane; j < cols; j += kWarp)
      grad_x[begin + j] = grad_y[begin + j] - std::exp(y[begin + j]) * sum;
  }
}

// out[i] = x[i, index[i]], one thread per row
template <class T>
__global__ void gather_rows_kernel(const T* x, const std::int64_t* index, T* out, std::int64_t rows,
                                   std::int64_t cols) {
  for (std::int64_t i = thread_index(); i < rows; i += thread_count()) out[i] = x[i * cols + index[i]];
}

// grad_x[i, j] = (j == index[i]) ? grad_out[i] : 0
template <class T>
__global__ void gather_rows_backward_kernel(const T* grad_out, const std::int64_t* index, T* grad_x,
                                            std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t e = thread_index(); e < n; e += thread_count()) {
    const std::int64_t i = e / cols, j = e % cols;
    grad_x[e] = j == index[i] ? grad_out[i] : T(0);
  }
}

// margin[i] = x[i, y_i] - max_{j != y_i} x[i, j], runner_up[i] = that j. One thread per row
// runs the CPU's loop as it is, so the runner-up is the same: the first of equal maxima, and
// the first candidate column is taken whatever its value (even -inf or NaN).
template <class T>
__global__ void margin_forward_kernel(const T* x, const std::int64_t* labels, T* margin, std::int64_t* runner_up,
                                      std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i = thread_index(); i < rows; i += thread_count()) {
    const T* row = x + i * cols;
    const std::int64_t label = labels[i];
    T best = -static_cast<T>(INFINITY);
    std::int64_t arg = -1;
    for (std::int64_t j = 0; j < cols; ++j)
      if (j != label && (row[j] > best || arg < 0)) best = row[j], arg = j;
    margin[i] = row[label] - best;
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

// out[i, j] = (j == labels[i]) ? 1 : 0
template <class T>
__global__ void one_hot_kernel(const std::int64_t* labels, T* out, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t e = thread_index(); e < n; e += thread_count()) {
    const std::int64_t i = e / cols, j = e % cols;
    out[e] = j == labels[i] ? T(1) : T(0);
  }
}

}  // namespace

void log_softmax_forward(const Tensor& x, Tensor& y) {
  dispatch_floating(x.dtype(), "log_softmax", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    if (rows * cols == 0) return;
    log_softmax_kernel<T><<<blocks_for_rows(rows), kThreads, 0, stream()>>>(px, py, rows, cols);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void log_softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  dispatch_floating(y.dtype(), "log_softmax backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = y.size(0), cols = y.size(1);
    const T* py = y.data<T>();
    const T* pg = grad_y.data<T>();
    T* pgx = grad_x.data<T>();
    if (rows * cols == 0) return;
    log_softmax_backward_kernel<T><<<blocks_for_rows(rows), kThreads, 0, stream()>>>(py, pg, pgx, rows, cols);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void gather_rows(const Tensor& x, const Tensor& index, Tensor& out) {
  dispatch_floating(x.dtype(), "gather", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    const T* px = x.data<T>();
    const std::int64_t* pi = index.data<std::int64_t>();
    T* po = out.data<T>();
    if (rows == 0) return;
    gather_rows_kernel<T><<<blocks_for(rows), kThreads, 0, stream()>>>(px, pi, po, rows, cols);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void gather_rows_backward(const Tensor& grad_out, const Tensor& index, Tensor& grad_x) {
  dispatch_floating(grad_x.dtype(), "gather backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = grad_x.size(0), cols = grad_x.size(1);
    const T* pg = grad_out.data<T>();
    const std::int64_t* pi = index.data<std::int64_t>();
    T* pgx = grad_x.data<T>();
    const std::int64_t n = rows * cols;
    if (n == 0) return;
    gather_rows_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(pg, pi, pgx, rows, cols);
    OA_CUDA_LAUNCH_CHECK();
  });
}

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

void one_hot(const Tensor& labels, Tensor& out) {
  dispatch_floating(out.dtype(), "one_hot", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = out.size(0), cols = out.size(1);
    const std::int64_t* pl = labels.data<std::int64_t>();
    T* po = out.data<T>();
    const std::int64_t n = rows * cols;
    if (n == 0) return;
    one_hot_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(pl, po, rows, cols);
    OA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace oa::cuda
