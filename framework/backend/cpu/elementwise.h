#pragma once
// CPU elementwise kernels, generic over the per-element functor (backend/elementwise_math.h).
// Templates, so they live in this header; threads come from OpenMP, and `simd` asks for the
// flat loops to be vectorised even where GCC's cost model for the machine would not (it left
// ReLU's backward scalar with -march=znver1).
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::cpu {

// Below this many elements a loop runs on one thread: starting threads costs more.
inline constexpr std::int64_t kParallelGrain = 1 << 15;

// The order an elementwise kernel walks its elements in. An elementwise op does not care how
// the elements lie as long as every operand and the output lie the same way. So when an
// operand is packed (core/storage.h: a oneDNN convolution's output) and nothing is broadcast,
// the kernel can run in that layout: operands in another order are packed into a copy first,
// and the output is written packed. It does so when at least half the operands are packed
// (ElementOrder's constructor); otherwise everything is row-major, the packed operands
// converted on access.
class ElementOrder {
 public:
  ElementOrder(std::initializer_list<const Tensor*> operands, const Tensor& out);

  // t's elements in this order (a packed copy kept alive by this object if needed).
  template <class T>
  const T* in(const Tensor& t) {
    check_dtype(t, dtype_of<T>(), "ElementOrder", "operand");
    if (!layout_) return t.data<T>();
    const auto own = t.packed_layout();
    if (own && own->same_as(*layout_)) return t.data_as_stored<T>();
    return static_cast<const T*>(packed_copy(t));
  }
  // Where to write all of target's elements in this order.
  template <class T>
  T* out(Tensor& target) {
    check_dtype(target, dtype_of<T>(), "ElementOrder", "out");
    return static_cast<T*>(out_bytes(target));
  }

 private:
  const void* packed_copy(const Tensor& t);
  void* out_bytes(Tensor& target);

  std::shared_ptr<const PackedLayout> layout_;  // null: row-major
  std::vector<Tensor> packed_copies_;
};

template <class F>
void map_unary(const Tensor& x, Tensor& y, const F& f) {
  dispatch_floating(x.dtype(), "map_unary", [&](auto tag) {
    using T = decltype(tag);
    ElementOrder order({&x}, y);
    const T* px = order.in<T>(x);
    T* py = order.out<T>(y);
    const std::int64_t n = x.numel();
#pragma omp parallel for simd if (n > kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) py[i] = f.forward(px[i]);
  });
}

template <class F>
void map_unary_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, Tensor& grad_x, const F& f) {
  dispatch_floating(x.dtype(), "map_unary_backward", [&](auto tag) {
    using T = decltype(tag);
    ElementOrder order({&x, &y, &grad_y}, grad_x);
    const T* px = order.in<T>(x);
    const T* py = order.in<T>(y);
    const T* pg = order.in<T>(grad_y);
    T* pgx = order.out<T>(grad_x);
    const std::int64_t n = x.numel();
#pragma omp parallel for simd if (n > kParallelGrain) schedule(static)
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
#pragma omp parallel for simd if (Parallel && n > kParallelGrain) schedule(static)
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
    ElementOrder order({&a, &b}, out);
    const T* pa = order.in<T>(a);
    const T* pb = order.in<T>(b);
    T* po = order.out<T>(out);
    for_each_broadcast(out.shape(), a.shape(), b.shape(),
                       [&](std::int64_t i, std::int64_t ia, std::int64_t ib) { po[i] = f.forward(pa[ia], pb[ib]); });
  });
}

template <class G>
void map_binary_grad(const Tensor& a, const Tensor& b, const Tensor& grad, Tensor& out, const G& g) {
  dispatch_floating(a.dtype(), "map_binary_grad", [&](auto tag) {
    using T = decltype(tag);
    ElementOrder order({&a, &b, &grad}, out);
    const T* pa = order.in<T>(a);
    const T* pb = order.in<T>(b);
    const T* pg = order.in<T>(grad);
    T* po = order.out<T>(out);
    for_each_broadcast(out.shape(), a.shape(), b.shape(),
                       [&](std::int64_t i, std::int64_t ia, std::int64_t ib) { po[i] = g(pa[ia], pb[ib], pg[i]); });
  });
}

}  // namespace oa::cpu
