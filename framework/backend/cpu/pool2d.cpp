// Max and average pooling over square windows (kernel k, stride s, zero padding p).
//   max:  y[n,c,oh,ow] = max over the window; backward sends the gradient to the argmax.
//   avg:  y = sum over the window / k^2 (padding counts, PyTorch's count_include_pad);
//         backward spreads grad / k^2 over the window.
#include "framework/backend/cpu/kernels.h"
#include "framework/backend/pool_math.h"

namespace oa::cpu {

namespace {
// The 2x2 window with stride 2 and no padding (the small CNN's poolings), always inside the
// plane: the same comparisons in the same order as window_max, without its bounds checks and
// loops over a run-time kernel size (which made the small CNN's pooling a third of its forward).
template <class T>
T window_max_2x2(const T* plane, std::int64_t in_w, std::int64_t oh, std::int64_t ow, std::int64_t* arg) {
  const std::int64_t top_left = 2 * oh * in_w + 2 * ow;
  const std::int64_t window[4] = {top_left, top_left + 1, top_left + in_w, top_left + in_w + 1};
  T best = plane[window[0]];
  *arg = window[0];
  for (int k = 1; k < 4; ++k)
    if (math::beats_max(plane[window[k]], best)) {
      best = plane[window[k]];
      *arg = window[k];
    }
  return best;
}
}  // namespace

void maxpool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g) {
  const bool two_by_two = g.kernel == 2 && g.stride == 2 && g.padding == 0;
  dispatch_floating(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::int64_t* pi = indices.data<std::int64_t>();
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
    for (std::int64_t nc = 0; nc < g.batch * g.channels; ++nc) {
      const T* plane = px + nc * g.in_h * g.in_w;
      for (std::int64_t oh = 0; oh < g.out_h; ++oh)
        for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
          const std::int64_t o = (nc * g.out_h + oh) * g.out_w + ow;
          py[o] = two_by_two ? window_max_2x2(plane, g.in_w, oh, ow, pi + o)
                             : backend::window_max(plane, g, oh, ow, pi + o);
        }
    }
  });
}

void maxpool2d_backward(const Tensor& grad_y, const Tensor& indices, Tensor& grad_x, const Pool2dGeometry& g) {
  fill(grad_x, 0.0);
  dispatch_floating(grad_y.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = grad_y.data<T>();
    const std::int64_t* pi = indices.data<std::int64_t>();
    T* pgx = grad_x.data<T>();
    const std::int64_t out_plane = g.out_h * g.out_w, in_plane = g.in_h * g.in_w;
#pragma omp parallel for schedule(static) if (grad_x.numel() > kParallelGrain)
    for (std::int64_t nc = 0; nc < g.batch * g.channels; ++nc)
      for (std::int64_t o = 0; o < out_plane; ++o) pgx[nc * in_plane + pi[nc * out_plane + o]] += pg[nc * out_plane + o];
  });
}

void avgpool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g) {
  dispatch_floating(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T inv_area = T(1) / static_cast<T>(g.kernel * g.kernel);
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
    for (std::int64_t nc = 0; nc < g.batch * g.channels; ++nc) {
      const T* plane = px + nc * g.in_h * g.in_w;
      for (std::int64_t oh = 0; oh < g.out_h; ++oh)
        for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
          T sum = 0;
          for (std::int64_t kh = 0; kh < g.kernel; ++kh) {
            const std::int64_t ih = oh * g.stride - g.padding + kh;
            if (ih < 0 || ih >= g.in_h) continue;
            for (std::int64_t kw = 0; kw < g.kernel; ++kw) {
              const std::int64_t iw = ow * g.stride - g.padding + kw;
              if (iw >= 0 && iw < g.in_w) sum += plane[ih * g.in_w + iw];
            }
          }
          py[(nc * g.out_h + oh) * g.out_w + ow] = sum * inv_area;
        }
    }
  });
}

void avgpool2d_backward(const Tensor& grad_y, Tensor& grad_x, const Pool2dGeometry& g) {
  fill(grad_x, 0.0);
  dispatch_floating(grad_y.dtype(), "avg_pool2d backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = grad_y.data<T>();
    T* pgx = grad_x.data<T>();
    const T inv_area = T(1) / static_cast<T>(g.kernel * g.kernel);
#pragma omp parallel for schedule(static) if (grad_x.numel() > kParallelGrain)
    for (std::int64_t nc = 0; nc < g.batch * g.channels; ++nc) {
      T* plane = pgx + nc * g.in_h * g.in_w;
      for (std::int64_t oh = 0; oh < g.out_h; ++oh)
        for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
          const T share = pg[(nc * g.out_h + oh) * g.out_w + ow] * inv_area;
          for (std::int64_t kh = 0; kh < g.kernel; ++kh) {
            const std::int64_t ih = oh * g.stride - g.padding + kh;
            if (ih < 0 || ih >= g.in_h) continue;
            for (std::int64_t kw = 0; kw < g.kernel; ++kw) {
              const std::int64_t iw = ow * g.stride - g.padding + kw;
              if (iw >= 0 && iw < g.in_w) plane[ih * g.in_w + iw] += share;
            }
          }
        }
    }
  });
}

}  // namespace oa::cpu
