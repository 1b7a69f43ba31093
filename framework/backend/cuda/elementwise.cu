// CUDA elementwise kernels: fill, cast, axpy, add, transpose, and the maps that are generic
// over a per-element functor of framework/backend/elementwise_math.h (unary, its backward,
// binary with NumPy broadcasting, and the binary gradients). Each mirrors its CPU twin in
// framework/backend/cpu/{basic.cpp,elementwise.h}. Every kernel is a grid-stride loop
// (one thread per element, the loop covers what the capped grid does not) on stream().
#include <cstdint>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/kernels.h"
#include "framework/backend/elementwise_math.h"

namespace oa::cuda {

namespace {

// Calls f with a value of the tensor's element type (float, double or int64).
template <class F>
void dispatch_any(DType dtype, const char* op, F&& f) {
  if (dtype == DType::Int64) return f(std::int64_t{});
  dispatch_floating(dtype, op, f);
}

// ---- basic kernels ---------------------------------------------------------------------

// p[i] = value
template <class T>
__global__ void fill_kernel(T* p, std::int64_t n, T value) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) p[i] = value;
}

// dst[i] = (D) src[i]
template <class S, class D>
__global__ void cast_kernel(const S* src, D* dst, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) dst[i] = static_cast<D>(src[i]);
}

// y[i] += alpha * x[i]
template <class T>
__global__ void axpy_kernel(T alpha, const T* x, T* y, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) y[i] += alpha * x[i];
}

// out[i] = a[i] + b[i]
template <class T>
__global__ void add_kernel(const T* a, const T* b, T* out, std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) out[i] = a[i] + b[i];
}

// y[j, i] = x[i, j] for x [rows, cols]: one thread per element of y (writes are coalesced).
template <class T>
__global__ void transpose_kernel(const T* x, T* y, std::int64_t rows, std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t k = thread_index(); k < n; k += thread_count()) {
    const std::int64_t j = k / rows, i = k % rows;  // k = j * rows + i
    y[k] = x[i * cols + j];
  }
}

// ---- functor maps ----------------------------------------------------------------------

// y[i] = f(x[i])
template <class T, class F>
__global__ void unary_kernel(const T* x, T* y, std::int64_t n, F f) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) y[i] = f.forward(x[i]);
}

// grad_x[i] = grad_y[i] * f'(x[i], y[i])
template <class T, class F>
__global__ void unary_backward_kernel(const T* x, const T* y, const T* grad_y, T* grad_x, std::int64_t n, F f) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) grad_x[i] = grad_y[i] * f.backward(x[i], y[i]);
}

// Broadcasting: the output's sizes and each operand's strides seen from the output (0 along
// the dims where the operand has size 1 or is missing), passed to the kernel by value.
constexpr int kMaxRank = 8;
struct BroadcastIndex {
  int rank = 0;
  std::int64_t size[kMaxRank] = {};
  std::int64_t stride_a[kMaxRank] = {};
  std::int64_t stride_b[kMaxRank] = {};
};

// Strides of `in` seen from `out_shape` (NumPy rules: `in` is aligned to the right).
void broadcast_strides(const Shape& in, const Shape& out_shape, std::int64_t* strides, const char* op) {
  const std::size_t rank = out_shape.size();
  OA_CHECK(in.size() <= rank, "{}: operand {} has more dims than the output {}", op, shape_str(in),
           shape_str(out_shape));
  const std::size_t lead = rank - in.size();
  std::int64_t stride = 1;  // contiguous stride of in's dim d, built from the last dim
  for (std::size_t d = rank; d-- > 0;) {
    if (d < lead) {
      strides[d] = 0;
      continue;
    }
    const std::int64_t size = in[d - lead];
    strides[d] = size == 1 ? 0 : stride;
    stride *= size;
  }
}

BroadcastIndex make_broadcast(const Shape& out_shape, const Shape& a_shape, const Shape& b_shape, const char* op) {
  OA_CHECK(out_shape.size() <= static_cast<std::size_t>(kMaxRank),
           "{}: the CUDA back end broadcasts up to {} dims, got {}", op, kMaxRank, shape_str(out_shape));
  BroadcastIndex bi;
  bi.rank = static_cast<int>(out_shape.size());
  for (int d = 0; d < bi.rank; ++d) bi.size[d] = out_shape[d];
  broadcast_strides(a_shape, out_shape, bi.stride_a, op);
  broadcast_strides(b_shape, out_shape, bi.stride_b, op);
  return bi;
}

// The offsets into a and b of output element i: decompose i into coordinates (last dim
// fastest) and weight each by the operand's stride.
__host__ __device__ inline void broadcast_offsets(const BroadcastIndex& bi, std::int64_t i, std::int64_t& ia,
                                                  std::int64_t& ib) {
  ia = 0;
  ib = 0;
  for (int d = bi.rank - 1; d >= 0; --d) {
    const std::int64_t coord = i % bi.size[d];
    i /= bi.size[d];
    ia += coord * bi.stride_a[d];
    ib += coord * bi.stride_b[d];
  }
}

// out[i] = f(a[i], b[i]) when nothing is broadcast
template <class T, class F>
__global__ void binary_kernel(const T* a, const T* b, T* out, std::int64_t n, F f) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) out[i] = f.forward(a[i], b[i]);
}

// out[i] = f(a[ia], b[ib]) with ia, ib the broadcast offsets of output element i
template <class T, class F>
__global__ void binary_broadcast_kernel(const T* a, const T* b, T* out, std::int64_t n, BroadcastIndex bi, F f) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    std::int64_t ia, ib;
    broadcast_offsets(bi, i, ia, ib);
    out[i] = f.forward(a[ia], b[ib]);
  }
}

// out[i] = g(a[i], b[i], grad[i]) when nothing is broadcast
template <class T, class G>
__global__ void binary_grad_kernel(const T* a, const T* b, const T* grad, T* out, std::int64_t n, G g) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) out[i] = g(a[i], b[i], grad[i]);
}

// out[i] = g(a[ia], b[ib], grad[i]): grad and out have the broadcast (output) shape
template <class T, class G>
__global__ void binary_grad_broadcast_kernel(const T* a, const T* b, const T* grad, T* out, std::int64_t n,
                                             BroadcastIndex bi, G g) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    std::int64_t ia, ib;
    broadcast_offsets(bi, i, ia, ib);
    out[i] = g(a[ia], b[ib], grad[i]);
  }
}

}  // namespace

// ---- basic -----------------------------------------------------------------------------

void fill(Tensor& t, double value) {
  dispatch_any(t.dtype(), "fill", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t n = t.numel();
    if (n == 0) return;
    fill_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(t.data<T>(), n, static_cast<T>(value));
    OA_CUDA_LAUNCH_CHECK();
  });
}

void cast(const Tensor& src, Tensor& dst) {
  dispatch_any(src.dtype(), "cast", [&](auto src_tag) {
    dispatch_any(dst.dtype(), "cast", [&](auto dst_tag) {
      using S = decltype(src_tag);
      using D = decltype(dst_tag);
      const std::int64_t n = src.numel();
      if (n == 0) return;
      cast_kernel<S, D><<<blocks_for(n), kThreads, 0, stream()>>>(src.data<S>(), dst.data<D>(), n);
      OA_CUDA_LAUNCH_CHECK();
    });
  });
}

void axpy(double alpha, const Tensor& x, Tensor& y) {
  dispatch_floating(x.dtype(), "axpy", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t n = x.numel();
    if (n == 0) return;
    axpy_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<T>(alpha), x.data<T>(), y.data<T>(), n);
    OA_CUDA_LAUNCH_CHECK();
  });
}

Tensor add(const Tensor& a, const Tensor& b) {
  return dispatch_floating(a.dtype(), "add", [&](auto tag) {
    using T = decltype(tag);
    Tensor out = Tensor::empty(a.shape(), a.dtype(), Device::CUDA);
    const std::int64_t n = a.numel();
    if (n == 0) return out;
    add_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(a.data<T>(), b.data<T>(), out.data<T>(), n);
    OA_CUDA_LAUNCH_CHECK();
    return out;
  });
}

void transpose2d(const Tensor& x, Tensor& y) {
  dispatch_any(x.dtype(), "transpose2d", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    const std::int64_t n = rows * cols;
    if (n == 0) return;
    transpose_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(x.data<T>(), y.data<T>(), rows, cols);
    OA_CUDA_LAUNCH_CHECK();
  });
}

// ---- functor maps ----------------------------------------------------------------------

template <class F>
void map_unary(const Tensor& x, Tensor& y, const F& f) {
  dispatch_floating(x.dtype(), "map_unary", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t n = x.numel();
    if (n == 0) return;
    unary_kernel<T, F><<<blocks_for(n), kThreads, 0, stream()>>>(x.data<T>(), y.data<T>(), n, f);
    OA_CUDA_LAUNCH_CHECK();
  });
}

template <class F>
void map_unary_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, Tensor& grad_x, const F& f) {
  dispatch_floating(x.dtype(), "map_unary_backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t n = x.numel();
    if (n == 0) return;
    unary_backward_kernel<T, F><<<blocks_for(n), kThreads, 0, stream()>>>(x.data<T>(), y.data<T>(),
                                                                          grad_y.data<T>(), grad_x.data<T>(), n, f);
    OA_CUDA_LAUNCH_CHECK();
  });
}

template <class F>
void map_binary(const Tensor& a, const Tensor& b, Tensor& out, const F& f) {
  dispatch_floating(a.dtype(), "map_binary", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const std::int64_t n = out.numel();
    if (n == 0) return;
    if (a.shape() == out.shape() && b.shape() == out.shape()) {  // no broadcasting: flat
      binary_kernel<T, F><<<blocks_for(n), kThreads, 0, stream()>>>(pa, pb, po, n, f);
    } else {
      const BroadcastIndex bi = make_broadcast(out.shape(), a.shape(), b.shape(), "map_binary");
      binary_broadcast_kernel<T, F><<<blocks_for(n), kThreads, 0, stream()>>>(pa, pb, po, n, bi, f);
    }
    OA_CUDA_LAUNCH_CHECK();
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
    const std::int64_t n = out.numel();
    if (n == 0) return;
    if (a.shape() == out.shape() && b.shape() == out.shape()) {  // no broadcasting: flat
      binary_grad_kernel<T, G><<<blocks_for(n), kThreads, 0, stream()>>>(pa, pb, pg, po, n, g);
    } else {
      const BroadcastIndex bi = make_broadcast(out.shape(), a.shape(), b.shape(), "map_binary_grad");
      binary_grad_broadcast_kernel<T, G><<<blocks_for(n), kThreads, 0, stream()>>>(pa, pb, pg, po, n, bi, g);
    }
    OA_CUDA_LAUNCH_CHECK();
  });
}

// ---- instantiations: one line per functor of framework/backend/elementwise_math.h -------

#define OA_CUDA_UNARY(F)                                                   \
  template void map_unary<math::F>(const Tensor&, Tensor&, const math::F&); \
  template void map_unary_backward<math::F>(const Tensor&, const Tensor&, const Tensor&, Tensor&, const math::F&);

#define OA_CUDA_BINARY(F)                                                                                    \
  template void map_binary<math::F>(const Tensor&, const Tensor&, Tensor&, const math::F&);                  \
  template void map_binary_grad<math::GradA<math::F>>(const Tensor&, const Tensor&, const Tensor&, Tensor&, \
                                                      const math::GradA<math::F>&);                         \
  template void map_binary_grad<math::GradB<math::F>>(const Tensor&, const Tensor&, const Tensor&, Tensor&, \
                                                      const math::GradB<math::F>&);

OA_CUDA_UNARY(Neg)
OA_CUDA_UNARY(Exp)
OA_CUDA_UNARY(Log)
OA_CUDA_UNARY(Tanh)
OA_CUDA_UNARY(Abs)
OA_CUDA_UNARY(Sqrt)
OA_CUDA_UNARY(Square)
OA_CUDA_UNARY(Relu)
OA_CUDA_UNARY(Sign)
OA_CUDA_UNARY(Clamp)
OA_CUDA_UNARY(AddScalar)
OA_CUDA_UNARY(MulScalar)
OA_CUDA_UNARY(PowScalar)

OA_CUDA_BINARY(Add)
OA_CUDA_BINARY(Sub)
OA_CUDA_BINARY(Mul)
OA_CUDA_BINARY(Div)
OA_CUDA_BINARY(Maximum)
OA_CUDA_BINARY(Minimum)

#undef OA_CUDA_UNARY
#undef OA_CUDA_BINARY

}  // namespace oa::cuda
