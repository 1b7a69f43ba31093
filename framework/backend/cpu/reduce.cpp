// Reductions: sum over any set of dims (and its backward, expand), max over one dim.
#include <limits>

#include "framework/backend/cpu/kernels.h"
#include "framework/backend/elementwise_math.h"

namespace oa::cpu {

void sum_dims(const Tensor& x, Tensor& out) {
  dispatch_floating(x.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const std::int64_t n_out = out.numel();
    std::fill_n(po, n_out, T(0));
    if (n_out == 1) {  // full reduction: a parallel sum with per-thread partials
      const std::int64_t n = x.numel();
      T total = 0;
#pragma omp parallel for reduction(+ : total) if (n > kParallelGrain) schedule(static)
      for (std::int64_t i = 0; i < n; ++i) total += px[i];
      po[0] = total;
      return;
    }
    // General case: walk x once, adding each element into its output slot. The output
    // is x's shape with 1 along reduced dims, so out's broadcast strides map x to out.
    // Serial: many elements of x land in the same slot.
    for_each_broadcast<false>(x.shape(), out.shape(), out.shape(),
                              [&](std::int64_t i, std::int64_t io, std::int64_t) { po[io] += px[i]; });
  });
}

void expand_to(const Tensor& x, Tensor& out) {
  dispatch_floating(x.dtype(), "expand", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_broadcast(out.shape(), x.shape(), x.shape(),
                       [&](std::int64_t i, std::int64_t ix, std::int64_t) { po[i] = px[ix]; });
  });
}

void max_dim(const Tensor& x, int dim, Tensor& values, Tensor& indices) {
  const DimSplit s = split_at(x.shape(), dim);
  dispatch_floating(x.dtype(), "max", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    std::int64_t* pi = indices.data<std::int64_t>();
    for (std::int64_t o = 0; o < s.outer; ++o)
      for (std::int64_t in = 0; in < s.inner; ++in) {
        T best = -std::numeric_limits<T>::infinity();
        std::int64_t arg = 0;
        for (std::int64_t k = 0; k < s.n; ++k) {
          const T v = px[(o * s.n + k) * s.inner + in];
          if (math::beats_max(v, best)) best = v, arg = k;  // the first maximum or NaN wins, as in PyTorch
        }
        pv[o * s.inner + in] = best;
        pi[o * s.inner + in] = arg;
      }
  });
}

void max_dim_backward(const Tensor& grad_values, const Tensor& indices, int dim, Tensor& grad_x) {
  const DimSplit s = split_at(grad_x.shape(), dim);
  fill(grad_x, 0.0);
  dispatch_floating(grad_x.dtype(), "max backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = grad_values.data<T>();
    const std::int64_t* pi = indices.data<std::int64_t>();
    T* pgx = grad_x.data<T>();
    for (std::int64_t o = 0; o < s.outer; ++o)
      for (std::int64_t in = 0; in < s.inner; ++in)
        pgx[(o * s.n + pi[o * s.inner + in]) * s.inner + in] = pg[o * s.inner + in];
  });
}

}  // namespace oa::cpu
