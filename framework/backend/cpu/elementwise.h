#pragma once
// CPU elementwise kernels, generic over the per-element functor (backend/elementwise_math.h).
// Templates, so they live in this header; threads come from OpenMP.
#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::cpu {

// Below this many elements a loop runs on one thread: starting threads costs more.
inline constexpr std::int64_t kParallelGrain = 1 << 15;

template <class F>
void map_unary(const Tensor& x, Tensor& y, const F& f) {
  dispatch_floating(x.dtype(), "map_unary", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const std::int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) py[i] = f.forward(px[i]);
  });
}

template <class F>
void map_unary_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, Tensor& grad_x, const F& f) {
  dispatch_floating(x.dtype(), "map_unary_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    const T* pg = grad_y.data<T>();
    T* pgx = grad_x.data<T>();
    const std::int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) pgx[i] = pg[i] * f.backward(px[i], py[i]);
  });
}

// Strides of `in` seen from the broadcast `out_shape`: 0 along broadcast dimensions.
std::vector<std::int64_t> broadcast_strides(const Shape& in, const Shape& out_shape);

// Calls body(i_out, i_a, i_b) for every element of out_shape, where i_a and i_b are the
// flat offsets of the broadcast operands. Rows (the last dimension) are split across threads
// unless Parallel is false (needed when several i_out write to one place).
template <bool Parallel = true, class Body>
void for_each_broadcast(const Shape& out_shape, const Shape& a_shape, const Shape& b_shape, Body&& body) {
  const std::int64_t n = shape_numel(out_shape);
  if (n == 0) return;
  if (a_shape == out_shape && b_shape == out_shape) {  // no broadcasting: one flat loop
#pragma omp parallel for if (Parallel && n > kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) body(i, i, i);
    return;
  }
  const auto sa = broadcast_strides(a_shape, out_shape);
  const auto sb = broadcast_strides(b_shape, out_shape);
  const std::size_t rank = out_shape.size();
  const std::int64_t inner = rank ? out_shape[rank - 1] : 1;
  const std::int64_t inner_sa = rank ? sa[rank - 1] : 0;
  const std::int64_t inner_sb = rank ? sb[rank - 1] : 0;
  const std::int64_t rows = n / inner;
#pragma omp parallel for if (Parallel && n > kParallelGrain) schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    // Decompose the row index into the outer coordinates to find each operand's offset.
    std::int64_t rest = row, off_a = 0, off_b = 0;
    for (std::size_t d = rank - 1; d-- > 0;) {
      const std::int64_t coord = rest % out_shape[d];
      rest /= out_shape[d];
      off_a += coord * sa[d];
      off_b += coord * sb[d];
    }
    for (std::int64_t j = 0; j < inner; ++j) body(row * inner + j, off_a + j * inner_sa, off_b + j * inner_sb);
  }
}

template <class F>
void map_binary(const Tensor& a, const Tensor& b, Tensor& out, const F& f) {
  dispatch_floating(a.dtype(), "map_binary", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    for_each_broadcast(out.shape(), a.shape(), b.shape(),
                       [&](std::int64_t i, std::int64_t ia, std::int64_t ib) { po[i] = f.forward(pa[ia], pb[ib]); });
  });
}

template <class G>
void map_binary_grad(const Tensor& a, const Tensor& b, const Tensor& grad, Tensor& out, const G& g) {
  dispatch_floating(a.dtype(), "map_binary_grad", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const T* pg = grad.data<T>();
    T* po = out.data<T>();
    for_each_broadcast(out.shape(), a.shape(), b.shape(),
                       [&](std::int64_t i, std::int64_t ia, std::int64_t ib) { po[i] = g(pa[ia], pb[ib], pg[i]); });
  });
}

}  // namespace oa::cpu
