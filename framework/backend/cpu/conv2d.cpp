// Convolution on the CPU: per image, im2col + one GEMM per group.
//
// For one image and one group, with K = (C_in/groups) * KH * KW and P = OH * OW:
//   col[K, P]     = im2col(x)          (each column holds the receptive field of one output pixel)
//   y[C_out/g, P] = W[C_out/g, K] @ col
//   backward:  grad_col = W^T @ grad_y, then col2im adds it back into grad_x;
//              grad_W  += grad_y @ col^T (summed over images).
// Working one image at a time keeps col in cache and lets images run on separate threads.
// A 1x1 convolution with stride 1 and no padding needs no im2col: col is x itself.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "framework/backend/cpu/gemm.h"
#include "framework/backend/cpu/kernels.h"

namespace oa::cpu {

namespace {

bool is_pointwise(const Conv2dGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride == 1 && g.padding == 0;
}

// col[(c*KH + kh)*KW + kw, oh*OW + ow] = x[c, oh*s - p + kh, ow*s - p + kw] (0 outside).
template <class T>
void im2col(const T* x, std::int64_t channels, const Conv2dGeometry& g, T* col) {
  const std::int64_t plane = g.out_h * g.out_w;
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t kh = 0; kh < g.kernel_h; ++kh)
      for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
        T* row = col + ((c * g.kernel_h + kh) * g.kernel_w + kw) * plane;
        const T* xc = x + c * g.in_h * g.in_w;
        for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
          const std::int64_t ih = oh * g.stride - g.padding + kh;
          T* out = row + oh * g.out_w;
          if (ih < 0 || ih >= g.in_h) {
            std::fill_n(out, g.out_w, T(0));
            continue;
          }
          const T* xrow = xc + ih * g.in_w;
          for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
            const std::int64_t iw = ow * g.stride - g.padding + kw;
            out[ow] = (iw >= 0 && iw < g.in_w) ? xrow[iw] : T(0);
          }
        }
      }
}

// The adjoint of im2col: x[c, ih, iw] += col[...] for every place im2col read it from.
template <class T>
void col2im(const T* col, std::int64_t channels, const Conv2dGeometry& g, T* x) {
  const std::int64_t plane = g.out_h * g.out_w;
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t kh = 0; kh < g.kernel_h; ++kh)
      for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
        const T* row = col + ((c * g.kernel_h + kh) * g.kernel_w + kw) * plane;
        T* xc = x + c * g.in_h * g.in_w;
        for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
          const std::int64_t ih = oh * g.stride - g.padding + kh;
          if (ih < 0 || ih >= g.in_h) continue;
          T* xrow = xc + ih * g.in_w;
          const T* in = row + oh * g.out_w;
          for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
            const std::int64_t iw = ow * g.stride - g.padding + kw;
            if (iw >= 0 && iw < g.in_w) xrow[iw] += in[ow];
          }
        }
      }
}

// Sizes shared by the three kernels.
// Threads only pay off with several images and enough arithmetic per call.
bool worth_threading(const Conv2dGeometry& g) {
  return g.batch > 1 && g.batch * g.out_channels * g.out_h * g.out_w * g.in_channels / g.groups * g.kernel_h * g.kernel_w >
                            (1 << 20);
}

struct ConvDims {
  std::int64_t cin_g, cout_g, k, plane, x_image, y_image;
  explicit ConvDims(const Conv2dGeometry& g)
      : cin_g(g.in_channels / g.groups),
        cout_g(g.out_channels / g.groups),
        k(cin_g * g.kernel_h * g.kernel_w),
        plane(g.out_h * g.out_w),
        x_image(g.in_channels * g.in_h * g.in_w),
        y_image(g.out_channels * g.out_h * g.out_w) {}
};

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  dispatch_floating(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const ConvDims d(g);
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    const T* pb = bias ? bias->data<T>() : nullptr;
    T* py = y.data<T>();
    const bool pointwise = is_pointwise(g);
#pragma omp parallel if (worth_threading(g))
    {
      std::vector<T> col(pointwise ? 0 : d.k * d.plane);
#pragma omp for schedule(static)
      for (std::int64_t n = 0; n < g.batch; ++n) {
        for (std::int64_t grp = 0; grp < g.groups; ++grp) {
          const T* x_g = px + n * d.x_image + grp * d.cin_g * g.in_h * g.in_w;
          const T* cols = x_g;
          if (!pointwise) {
            im2col(x_g, d.cin_g, g, col.data());
            cols = col.data();
          }
          gemm<T>(false, false, d.cout_g, d.plane, d.k, T(1), pw + grp * d.cout_g * d.k, d.k, cols, d.plane, T(0),
                  py + n * d.y_image + grp * d.cout_g * d.plane, d.plane);
        }
        if (pb)
          for (std::int64_t co = 0; co < g.out_channels; ++co) {
            T* out = py + n * d.y_image + co * d.plane;
            for (std::int64_t p = 0; p < d.plane; ++p) out[p] += pb[co];
          }
      }
    }
  });
}

void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g) {
  dispatch_floating(grad_y.dtype(), "conv2d backward (input)", [&](auto tag) {
    using T = decltype(tag);
    const ConvDims d(g);
    const T* pg = grad_y.data<T>();
    const T* pw = w.data<T>();
    T* pgx = grad_x.data<T>();
    const bool pointwise = is_pointwise(g);
#pragma omp parallel if (worth_threading(g))
    {
      std::vector<T> col(pointwise ? 0 : d.k * d.plane);
#pragma omp for schedule(static)
      for (std::int64_t n = 0; n < g.batch; ++n) {
        T* gx_n = pgx + n * d.x_image;
        if (!pointwise) std::fill_n(gx_n, d.x_image, T(0));
        for (std::int64_t grp = 0; grp < g.groups; ++grp) {
          T* gx_g = gx_n + grp * d.cin_g * g.in_h * g.in_w;
          // grad_col[K, P] = W_g^T @ grad_y_g; for a pointwise conv grad_col is grad_x.
          gemm<T>(true, false, d.k, d.plane, d.cout_g, T(1), pw + grp * d.cout_g * d.k, d.k,
                  pg + n * d.y_image + grp * d.cout_g * d.plane, d.plane, T(0), pointwise ? gx_g : col.data(),
                  d.plane);
          if (!pointwise) col2im(col.data(), d.cin_g, g, gx_g);
        }
      }
    }
  });
}

void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g) {
  dispatch_floating(grad_y.dtype(), "conv2d backward (weight)", [&](auto tag) {
    using T = decltype(tag);
    const ConvDims d(g);
    const T* pg = grad_y.data<T>();
    const T* px = x.data<T>();
    T* pgw = grad_w.data<T>();
    const std::int64_t w_size = g.out_channels * d.k;
    const bool pointwise = is_pointwise(g);
    // Each thread sums its images into a private copy; the copies are added at the end.
    std::vector<std::vector<T>> partial(omp_get_max_threads());
#pragma omp parallel if (worth_threading(g))
    {
      std::vector<T>& acc = partial[omp_get_thread_num()];
      acc.assign(w_size, T(0));
      std::vector<T> col(pointwise ? 0 : d.k * d.plane);
#pragma omp for schedule(static)
      for (std::int64_t n = 0; n < g.batch; ++n)
        for (std::int64_t grp = 0; grp < g.groups; ++grp) {
          const T* x_g = px + n * d.x_image + grp * d.cin_g * g.in_h * g.in_w;
          const T* cols = x_g;
          if (!pointwise) {
            im2col(x_g, d.cin_g, g, col.data());
            cols = col.data();
          }
          // grad_W_g[C_out/g, K] += grad_y_g[C_out/g, P] @ col^T
          gemm<T>(false, true, d.cout_g, d.k, d.plane, T(1), pg + n * d.y_image + grp * d.cout_g * d.plane, d.plane,
                  cols, d.plane, T(1), acc.data() + grp * d.cout_g * d.k, d.k);
        }
    }
    std::fill_n(pgw, w_size, T(0));
    for (const auto& acc : partial)
      if (!acc.empty())
        for (std::int64_t i = 0; i < w_size; ++i) pgw[i] += acc[i];
  });
}

void conv2d_backward_bias(const Tensor& grad_y, Tensor& grad_b) {
  dispatch_floating(grad_y.dtype(), "conv2d backward (bias)", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t batch = grad_y.size(0), channels = grad_y.size(1);
    const std::int64_t plane = grad_y.size(2) * grad_y.size(3);
    const T* pg = grad_y.data<T>();
    T* pb = grad_b.data<T>();
    for (std::int64_t c = 0; c < channels; ++c) {
      T s = 0;
      for (std::int64_t n = 0; n < batch; ++n)
        for (std::int64_t p = 0; p < plane; ++p) s += pg[(n * channels + c) * plane + p];
      pb[c] = s;
    }
  });
}

}  // namespace oa::cpu
