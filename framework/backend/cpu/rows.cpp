// Row-wise kernels: a tensor viewed as N rows of D elements, with one mask value or one pair
// of Adam factors per row (where_rows, row_adam_step).
#include "framework/backend/cpu/kernels.h"
#include "framework/backend/optim_math.h"

namespace oa::cpu {

void where_rows(const Tensor& mask, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_floating(a.dtype(), "where_rows", [&](auto tag) {
    using T = decltype(tag);
    const T* pm = mask.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const std::int64_t rows = mask.numel(), dim = rows ? a.numel() / rows : 0;
#pragma omp parallel for if (a.numel() > kParallelGrain) schedule(static)
    for (std::int64_t k = 0; k < rows * dim; ++k) po[k] = pm[k / dim] != T(0) ? pa[k] : pb[k];
  });
}

void row_adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_size,
                   const Tensor& v_correction, double beta1, double beta2, double eps) {
  dispatch_floating(w.dtype(), "row_adam_step", [&](auto tag) {
    using T = decltype(tag);
    T* pw = w.data<T>();
    const T* g = grad.data<T>();
    T* pm = m.data<T>();
    T* pv = v.data<T>();
    const T* step = step_size.data<T>();
    const T* correction = v_correction.data<T>();
    const std::int64_t rows = step_size.numel(), dim = rows ? w.numel() / rows : 0;
#pragma omp parallel for if (w.numel() > kParallelGrain) schedule(static)
    for (std::int64_t k = 0; k < rows * dim; ++k) {
      const std::int64_t row = k / dim;
      if (step[row] == T(0)) continue;  // this row stands still
      backend::adam_update(pw[k], g[k], pm[k], pv[k], T(beta1), T(beta2), T(0), T(eps), step[row], correction[row]);
    }
  });
}

}  // namespace oa::cpu
