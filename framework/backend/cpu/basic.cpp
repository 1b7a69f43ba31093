// Small CPU kernels: fill, cast, axpy, add, transpose, broadcast strides.
#include <algorithm>

#include "framework/backend/cpu/kernels.h"
#include "framework/backend/elementwise_math.h"

namespace oa::cpu {

namespace {
// Calls f with a null pointer of the tensor's element type (floating or int64).
template <class F>
void dispatch_any(DType dtype, F&& f) {
  if (dtype == DType::Int64) return f(std::int64_t{});
  dispatch_floating(dtype, "kernel", f);
}
}  // namespace

void fill(Tensor& t, double value) {
  dispatch_any(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    std::fill_n(t.data<T>(), t.numel(), static_cast<T>(value));
  });
}

void cast(const Tensor& src, Tensor& dst) {
  dispatch_any(src.dtype(), [&](auto src_tag) {
    dispatch_any(dst.dtype(), [&](auto dst_tag) {
      using S = decltype(src_tag);
      using D = decltype(dst_tag);
      std::transform(src.data<S>(), src.data<S>() + src.numel(), dst.data<D>(),
                     [](S v) { return static_cast<D>(v); });
    });
  });
}

void axpy(double alpha, const Tensor& x, Tensor& y) {
  dispatch_floating(x.dtype(), "axpy", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T a = static_cast<T>(alpha);
    const std::int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) py[i] += a * px[i];
  });
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = empty_like(a);
  map_binary(a, b, out, math::Add{});
  return out;
}

void transpose2d(const Tensor& x, Tensor& y) {
  dispatch_any(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) py[j * rows + i] = px[i * cols + j];
  });
}

std::vector<std::int64_t> broadcast_strides(const Shape& in, const Shape& out_shape) {
  const auto in_strides = contiguous_strides(in);
  const std::size_t lead = out_shape.size() - in.size();
  std::vector<std::int64_t> strides(out_shape.size(), 0);
  for (std::size_t d = 0; d < in.size(); ++d) strides[lead + d] = in[d] == 1 ? 0 : in_strides[d];
  return strides;
}

}  // namespace oa::cpu
