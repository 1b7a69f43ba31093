// CUDA log_softmax over the rows of logits x[N, C], one warp per row: the twin of
// framework/backend/cpu/log_softmax.cpp.
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

}  // namespace oa::cuda
