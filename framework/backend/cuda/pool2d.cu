// Max and average pooling over square windows (kernel k, stride s, zero padding p) on the
// GPU, with our own kernels (cuDNN's pooling does not return the argmax indices we keep).
//   max:  y[n,c,oh,ow] = max over the window; indices = the flat ih*W + iw of the max inside
//         its image plane (the first one in row-major window order on ties, as on the CPU);
//         backward sends each grad_y to its argmax.
//   avg:  y = sum over the window / k^2 (padding counts: PyTorch's count_include_pad=True);
//         backward spreads grad_y / k^2 over the window's in-bounds elements.
// The backward kernels gather: one thread per input element sums the contributions of the
// windows that cover it, in the order of the output positions. Each grad_x element is
// written once (no zeroing, no atomics) and the sums run in the CPU back end's order, so the
// results are deterministic (and, for max pooling, equal to the CPU's bit for bit).
#include <cmath>
#include <cstdint>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/kernels.h"
#include "framework/backend/pool_math.h"

namespace oa::cuda {

namespace {

// The output rows (or columns) whose window covers input row i: o*s - p <= i <= o*s - p + k - 1,
// i.e. ceil((i + p - k + 1) / s) <= o <= floor((i + p) / s), clipped to [0, out).
struct OutputRange {
  std::int64_t first, last;  // inclusive; empty when first > last
};
__device__ OutputRange covering(std::int64_t i, std::int64_t kernel, std::int64_t stride, std::int64_t padding,
                                std::int64_t out) {
  const std::int64_t low = i + padding - kernel + 1;
  const std::int64_t first = low <= 0 ? 0 : (low + stride - 1) / stride;
  const std::int64_t high = (i + padding) / stride;
  const std::int64_t last = high < out - 1 ? high : out - 1;
  return {first, last};
}

// An exactly rounded product that the compiler may not fuse into a later add (nvcc contracts
// a * b + c into one FMA by default; the CPU rounds the product first).
__device__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }

template <class T>
__global__ void maxpool_forward_kernel(const T* x, T* y, std::int64_t* indices, Pool2dGeometry g, std::int64_t n) {
  for (std::int64_t o = thread_index(); o < n; o += thread_count()) {
    const std::int64_t ow = o % g.out_w, oh = (o / g.out_w) % g.out_h, nc = o / (g.out_w * g.out_h);
    y[o] = backend::window_max(x + nc * g.in_h * g.in_w, g, oh, ow, indices + o);  // the CPU's very rule
  }
}

template <class T>
__global__ void maxpool_backward_kernel(const T* grad_y, const std::int64_t* indices, T* grad_x, Pool2dGeometry g,
                                        std::int64_t n) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    const std::int64_t iw = i % g.in_w, ih = (i / g.in_w) % g.in_h, nc = i / (g.in_w * g.in_h);
    const std::int64_t flat = ih * g.in_w + iw;
    const OutputRange rows = covering(ih, g.kernel, g.stride, g.padding, g.out_h);
    const OutputRange cols = covering(iw, g.kernel, g.stride, g.padding, g.out_w);
    const std::int64_t base = nc * g.out_h * g.out_w;
    T sum = 0;
    for (std::int64_t oh = rows.first; oh <= rows.last; ++oh)
      for (std::int64_t ow = cols.first; ow <= cols.last; ++ow) {
        const std::int64_t o = base + oh * g.out_w + ow;
        if (indices[o] == flat) sum += grad_y[o];
      }
    grad_x[i] = sum;
  }
}

template <class T>
__global__ void avgpool_forward_kernel(const T* x, T* y, Pool2dGeometry g, std::int64_t n, T inv_area) {
  for (std::int64_t o = thread_index(); o < n; o += thread_count()) {
    const std::int64_t ow = o % g.out_w, oh = (o / g.out_w) % g.out_h, nc = o / (g.out_w * g.out_h);
    const T* plane = x + nc * g.in_h * g.in_w;
    T sum = 0;
    for (std::int64_t kh = 0; kh < g.kernel; ++kh) {
      const std::int64_t ih = oh * g.stride - g.padding + kh;
      if (ih < 0 || ih >= g.in_h) continue;
      for (std::int64_t kw = 0; kw < g.kernel; ++kw) {
        const std::int64_t iw = ow * g.stride - g.padding + kw;
        if (iw >= 0 && iw < g.in_w) sum += plane[ih * g.in_w + iw];
      }
    }
    y[o] = sum * inv_area;
  }
}

template <class T>
__global__ void avgpool_backward_kernel(const T* grad_y, T* grad_x, Pool2dGeometry g, std::int64_t n, T inv_area) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    const std::int64_t iw = i % g.in_w, ih = (i / g.in_w) % g.in_h, nc = i / (g.in_w * g.in_h);
    const OutputRange rows = covering(ih, g.kernel, g.stride, g.padding, g.out_h);
    const OutputRange cols = covering(iw, g.kernel, g.stride, g.padding, g.out_w);
    const std::int64_t base = nc * g.out_h * g.out_w;
    T sum = 0;
    for (std::int64_t oh = rows.first; oh <= rows.last; ++oh)
      for (std::int64_t ow = cols.first; ow <= cols.last; ++ow) sum += mul_rn(grad_y[base + oh * g.out_w + ow], inv_area);
    grad_x[i] = sum;
  }
}

}  // namespace

void maxpool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g) {
  const std::int64_t n = y.numel();
  if (n == 0) return;
  dispatch_floating(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    maxpool_forward_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(x.data<T>(), y.data<T>(),
                                                                     indices.data<std::int64_t>(), g, n);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void maxpool2d_backward(const Tensor& grad_y, const Tensor& indices, Tensor& grad_x, const Pool2dGeometry& g) {
  const std::int64_t n = grad_x.numel();
  if (n == 0) return;
  dispatch_floating(grad_y.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = decltype(tag);
    maxpool_backward_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(
        grad_y.data<T>(), indices.data<std::int64_t>(), grad_x.data<T>(), g, n);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void avgpool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g) {
  const std::int64_t n = y.numel();
  if (n == 0) return;
  dispatch_floating(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T inv_area = T(1) / static_cast<T>(g.kernel * g.kernel);
    avgpool_forward_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(x.data<T>(), y.data<T>(), g, n, inv_area);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void avgpool2d_backward(const Tensor& grad_y, Tensor& grad_x, const Pool2dGeometry& g) {
  const std::int64_t n = grad_x.numel();
  if (n == 0) return;
  dispatch_floating(grad_y.dtype(), "avg_pool2d backward", [&](auto tag) {
    using T = decltype(tag);
    const T inv_area = T(1) / static_cast<T>(g.kernel * g.kernel);
    avgpool_backward_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(grad_y.data<T>(), grad_x.data<T>(), g, n,
                                                                      inv_area);
    OA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace oa::cuda
