// CUDA gather over the rows of x[N, C] and its backward, and one_hot: the twins of
// framework/backend/cpu/gather.cpp. The backward and one_hot write every element of their
// [N, C] output (zero where no gradient or label lands) in one pass instead of a zero fill
// followed by a scatter.
#include <cmath>
#include <cstdint>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/kernels.h"

namespace oa::cuda {

namespace {

// out[i] = x[i, index[i]], one thread per row; NaN for an index outside [0, cols), which the
// host does not check on the GPU (check_labels).
template <class T>
__global__ void gather_rows_kernel(const T* x, const std::int64_t* index, T* out, std::int64_t rows,
                                   std::int64_t cols) {
  for (std::int64_t i = thread_index(); i < rows; i += thread_count())
    out[i] = index[i] >= 0 && index[i] < cols ? x[i * cols + index[i]] : static_cast<T>(NAN);
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

// out[i, j] = (j == labels[i]) ? 1 : 0; a row of NaN for a label outside [0, cols) (check_labels)
template <class T>
__global__ void one_hot_kernel(const std::int64_t* labels, T* out, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t e = thread_index(); e < n; e += thread_count()) {
    const std::int64_t i = e / cols, j = e % cols;
    const bool valid = labels[i] >= 0 && labels[i] < cols;
    out[e] = !valid ? static_cast<T>(NAN) : j == labels[i] ? T(1) : T(0);
  }
}

}  // namespace

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
