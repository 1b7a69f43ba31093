// CUDA row-wise kernels over a tensor viewed as N rows of D elements (where_rows,
// row_adam_step): the twins of backend/cpu/rows.cpp.
#include <cstdint>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/kernels.h"
#include "framework/backend/optim_math.h"

namespace oa::cuda {

namespace {

// out[k] = mask[row of k] != 0 ? a[k] : b[k]
template <class T>
__global__ void where_rows_kernel(const T* mask, const T* a, const T* b, T* out, std::int64_t n, std::int64_t dim) {
  for (std::int64_t k = thread_index(); k < n; k += thread_count()) out[k] = mask[k / dim] != T(0) ? a[k] : b[k];
}

// The Adam update of backend/optim_math.h with the bias corrections of each element's row;
// rows whose step size is 0 stand still.
template <class T>
__global__ void row_adam_kernel(T* w, const T* g, T* m, T* v, const T* step, const T* correction, std::int64_t n,
                                std::int64_t dim, T beta1, T beta2, T eps) {
  for (std::int64_t k = thread_index(); k < n; k += thread_count()) {
    const std::int64_t row = k / dim;
    if (step[row] == T(0)) continue;
    backend::adam_update(w[k], g[k], m[k], v[k], beta1, beta2, T(0), eps, step[row], correction[row]);
  }
}

}  // namespace

void where_rows(const Tensor& mask, const Tensor& a, const Tensor& b, Tensor& out) {
  const std::int64_t n = a.numel(), rows = mask.numel();
  if (n == 0 || rows == 0) return;
  dispatch_floating(a.dtype(), "where_rows", [&](auto tag) {
    using T = decltype(tag);
    where_rows_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(mask.data<T>(), a.data<T>(), b.data<T>(),
                                                                    out.data<T>(), n, n / rows);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void row_adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_size,
                   const Tensor& v_correction, double beta1, double beta2, double eps) {
  const std::int64_t n = w.numel(), rows = step_size.numel();
  if (n == 0 || rows == 0) return;
  dispatch_floating(w.dtype(), "row_adam_step", [&](auto tag) {
    using T = decltype(tag);
    row_adam_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(w.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(),
                                                                  step_size.data<T>(), v_correction.data<T>(), n,
                                                                  n / rows, T(beta1), T(beta2), T(eps));
    OA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace oa::cuda
