// Convolution on the CPU, our engine: im2col + one GEMM per group, over blocks of images
// (every dtype; float32 runs oneDNN unless asked otherwise: cpu/conv2d_engine.cpp).
//
// For a block of B images and one group, with K = (C_in/groups) * KH * KW and P = OH * OW:
//   col[K, B*P]     = im2col(x)   (each column holds the receptive field of one output pixel)
//   y[C_out/g, B*P] = W[C_out/g, K] @ col
//   backward:  grad_col = W^T @ grad_y, then col2im adds it back into grad_x (at stride 1,
//              a forward convolution with the rotated kernel instead: see below);
//              grad_W  += grad_y @ col^T (summed over blocks).
// B is 1 for large images and grows as the planes shrink, so that each GEMM has about
// kTargetColumns columns: a GEMM with few columns (a 7x7 plane has 49) runs far below
// peak. Blocks run on separate threads; col stays small enough for the cache.
// With B = 1, a 1x1 convolution with stride 1 and no padding needs no copy: col is x.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "framework/backend/cpu/gemm.h"
#include "framework/backend/cpu/conv2d_engine.h"

namespace oa::cpu {

namespace {

constexpr std::int64_t kTargetColumns = 1024;

bool is_pointwise(const Conv2dGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride == 1 && g.padding == 0;
}

// Threads only pay off with several images and enough arithmetic per call.
bool worth_threading(const Conv2dGeometry& g) {
  return g.batch > 1 && g.batch * g.out_channels * g.out_h * g.out_w * g.in_channels / g.groups * g.kernel_h * g.kernel_w >
                            (1 << 20);
}

// The output columns ow whose input column iw = ow*s - p + kw lies inside [0, in_w):
// [first, last). Splitting the rows there keeps the bounds checks out of the inner loops.
struct ValidColumns {
  std::int64_t first, last;
};
ValidColumns valid_columns(const Conv2dGeometry& g, std::int64_t kw) {
  const std::int64_t offset = g.padding - kw;  // ow*s >= offset and ow*s < in_w + offset
  const std::int64_t first = offset > 0 ? (offset + g.stride - 1) / g.stride : 0;
  const std::int64_t last = std::min(g.out_w, (g.in_w + offset + g.stride - 1) / g.stride);
  return {std::min(first, g.out_w), std::max(std::min(first, g.out_w), last)};
}

// col[(c*KH + kh)*KW + kw, oh*OW + ow] = x[c, oh*s - p + kh, ow*s - p + kw] (0 outside);
// `ld` is the row stride of col (B*P when B images share it).
template <class T>
void im2col(const T* x, std::int64_t channels, const Conv2dGeometry& g, T* col, std::int64_t ld) {
  for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
    const auto [first, last] = valid_columns(g, kw);
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
        T* row = col + ((c * g.kernel_h + kh) * g.kernel_w + kw) * ld;
        const T* xc = x + c * g.in_h * g.in_w;
        for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
          const std::int64_t ih = oh * g.stride - g.padding + kh;
          T* out = row + oh * g.out_w;
          if (ih < 0 || ih >= g.in_h) {
            std::fill_n(out, g.out_w, T(0));
            continue;
          }
          const std::int64_t base = ih * g.in_w - g.padding + kw;  // xc[base + ow*s] feeds column ow
          std::fill_n(out, first, T(0));
          if (g.stride == 1) std::copy_n(xc + base + first, last - first, out + first);
          else
            for (std::int64_t ow = first; ow < last; ++ow) out[ow] = xc[base + ow * g.stride];
          std::fill(out + last, out + g.out_w, T(0));
        }
      }
  }
}

// The adjoint of im2col: x[c, ih, iw] += col[...] for every place im2col read it from.
template <class T>
void col2im(const T* col, std::int64_t ld, std::int64_t channels, const Conv2dGeometry& g, T* x) {
  for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
    const auto [first, last] = valid_columns(g, kw);
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
        const T* row = col + ((c * g.kernel_h + kh) * g.kernel_w + kw) * ld;
        T* xc = x + c * g.in_h * g.in_w;
        for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
          const std::int64_t ih = oh * g.stride - g.padding + kh;
          if (ih < 0 || ih >= g.in_h) continue;
          const std::int64_t base = ih * g.in_w - g.padding + kw;
          const T* in = row + oh * g.out_w;
          for (std::int64_t ow = first; ow < last; ++ow) xc[base + ow * g.stride] += in[ow];
        }
      }
  }
}

// Sizes shared by the three kernels, and the blocking of the batch.
struct ConvPlan {
  std::int64_t cin_g, cout_g, k, plane, in_plane, x_image, y_image, block, blocks;
  explicit ConvPlan(const Conv2dGeometry& g)
      : cin_g(g.in_channels / g.groups),
        cout_g(g.out_channels / g.groups),
        k(cin_g * g.kernel_h * g.kernel_w),
        plane(g.out_h * g.out_w),
        in_plane(g.in_h * g.in_w),
        x_image(g.in_channels * in_plane),
        y_image(g.out_channels * plane) {
    block = std::clamp<std::int64_t>(kTargetColumns / std::max<std::int64_t>(plane, 1), 1, g.batch);
    // A multiple of the thread count of blocks, of equal size where possible: 7 blocks on
    // 2 threads would leave one thread idle for a seventh of the time.
    const std::int64_t threads = worth_threading(g) ? omp_get_max_threads() : 1;
    blocks = (g.batch + block - 1) / block;
    blocks = std::min(g.batch, (blocks + threads - 1) / threads * threads);
    block = (g.batch + blocks - 1) / blocks;
    blocks = (g.batch + block - 1) / block;
  }
  std::int64_t first(std::int64_t b) const { return b * block; }
  std::int64_t count(const Conv2dGeometry& g, std::int64_t b) const { return std::min(block, g.batch - b * block); }
};

// The channels [c0, c0 + channels) of images [n0, n0 + nb) of an NCHW tensor, as a
// [channels, nb * plane] matrix (gather), or back (scatter).
template <class T>
void gather_block(const T* src, std::int64_t n0, std::int64_t nb, std::int64_t c0, std::int64_t channels,
                  std::int64_t image, std::int64_t plane, T* dst) {
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t b = 0; b < nb; ++b)
      std::copy_n(src + (n0 + b) * image + (c0 + c) * plane, plane, dst + c * nb * plane + b * plane);
}
template <class T>
void scatter_block(const T* src, std::int64_t n0, std::int64_t nb, std::int64_t c0, std::int64_t channels,
                   std::int64_t image, std::int64_t plane, T* dst) {
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t b = 0; b < nb; ++b)
      std::copy_n(src + c * nb * plane + b * plane, plane, dst + (n0 + b) * image + (c0 + c) * plane);
}

// col for images [n0, n0 + nb) of group grp, in `buffer` ([K, nb*P]); with nb = 1 and a
// pointwise conv, x itself.
template <class T>
const T* block_columns(const T* x, const Conv2dGeometry& g, const ConvPlan& p, std::int64_t n0, std::int64_t nb,
                       std::int64_t grp, std::vector<T>& buffer) {
  const T* x_g = x + n0 * p.x_image + grp * p.cin_g * p.in_plane;
  if (nb == 1 && is_pointwise(g)) return x_g;
  for (std::int64_t b = 0; b < nb; ++b) im2col(x_g + b * p.x_image, p.cin_g, g, buffer.data() + b * p.plane, nb * p.plane);
  return buffer.data();
}

}  // namespace

void im2col_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  dispatch_floating(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const ConvPlan p(g);
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    const T* pb = bias ? bias->data<T>() : nullptr;
    T* py = y.data<T>();
#pragma omp parallel if (worth_threading(g))
    {
      std::vector<T> col(p.k * p.block * p.plane), out(p.block > 1 ? p.cout_g * p.block * p.plane : 0);
#pragma omp for schedule(static)
      for (std::int64_t blk = 0; blk < p.blocks; ++blk) {
        const std::int64_t n0 = p.first(blk), nb = p.count(g, blk), cols = nb * p.plane;
        for (std::int64_t grp = 0; grp < g.groups; ++grp) {
          const T* c = block_columns(px, g, p, n0, nb, grp, col);
          // One image: write y directly; several: into `out`, then scatter to NCHW.
          T* dst = nb == 1 ? py + n0 * p.y_image + grp * p.cout_g * p.plane : out.data();
          gemm<T>(false, false, p.cout_g, cols, p.k, T(1), pw + grp * p.cout_g * p.k, p.k, c, cols, T(0), dst, cols);
          if (nb > 1) scatter_block(out.data(), n0, nb, grp * p.cout_g, p.cout_g, p.y_image, p.plane, py);
        }
        if (pb)
          for (std::int64_t n = n0; n < n0 + nb; ++n)
            for (std::int64_t co = 0; co < g.out_channels; ++co) {
              T* o = py + n * p.y_image + co * p.plane;
              for (std::int64_t i = 0; i < p.plane; ++i) o[i] += pb[co];
            }
      }
    }
  });
}

namespace {

// Stride 1, a square kernel and padding p <= K - 1: the input gradient is itself a
// convolution, of grad_y padded by K - 1 - p with the kernel rotated by 180 degrees and its
// channel axes swapped (per group):
//   grad_x[ci, i, j] = sum_{co, a, b} grad_y[co, i + p - a, j + p - b] * w[co, ci, a, b]
//                    = sum_{co, a', b'} grad_y_padded[co, i + a', j + b'] * w[co, ci, K-1-a', K-1-b'].
// The forward path's im2col reads contiguously, where col2im scatters and adds: on the small
// ResNet-20 planes this is the faster way (run_bench's attack and training steps).
bool input_gradient_is_a_convolution(const Conv2dGeometry& g) {
  return g.stride == 1 && g.kernel_h == g.kernel_w && g.padding <= g.kernel_h - 1 && !is_pointwise(g);
}

// w [C_out, C_in/g, K, K] -> w_t [C_in, C_out/g, K, K]: w_t[grp*cin_g + ci, co, a, b] =
// w[grp*cout_g + co, ci, K-1-a, K-1-b].
template <class T>
Tensor rotated_transposed(const Tensor& w, const Conv2dGeometry& g) {
  const std::int64_t cout_g = g.out_channels / g.groups, cin_g = g.in_channels / g.groups, k = g.kernel_h;
  Tensor w_t = Tensor::empty({g.in_channels, cout_g, k, k}, w.dtype());
  const T* src = w.data<T>();
  T* dst = w_t.data<T>();
  for (std::int64_t grp = 0; grp < g.groups; ++grp)
    for (std::int64_t co = 0; co < cout_g; ++co)
      for (std::int64_t ci = 0; ci < cin_g; ++ci)
        for (std::int64_t a = 0; a < k; ++a)
          for (std::int64_t b = 0; b < k; ++b)
            dst[(((grp * cin_g + ci) * cout_g + co) * k + a) * k + b] =
                src[(((grp * cout_g + co) * cin_g + ci) * k + (k - 1 - a)) * k + (k - 1 - b)];
  return w_t;
}

}  // namespace

void im2col_conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g) {
  if (input_gradient_is_a_convolution(g)) {
    const Conv2dGeometry transposed{.batch = g.batch, .in_channels = g.out_channels, .in_h = g.out_h,
                                    .in_w = g.out_w, .out_channels = g.in_channels, .kernel_h = g.kernel_h,
                                    .kernel_w = g.kernel_w, .stride = 1, .padding = g.kernel_h - 1 - g.padding,
                                    .groups = g.groups, .out_h = g.in_h, .out_w = g.in_w};
    const Tensor w_t = dispatch_floating(w.dtype(), "conv2d backward (input)",
                                         [&](auto tag) { return rotated_transposed<decltype(tag)>(w, g); });
    return im2col_conv2d_forward(grad_y, w_t, nullptr, grad_x, transposed);
  }
  dispatch_floating(grad_y.dtype(), "conv2d backward (input)", [&](auto tag) {
    using T = decltype(tag);
    const ConvPlan p(g);
    const T* pg = grad_y.data<T>();
    const T* pw = w.data<T>();
    T* pgx = grad_x.data<T>();
    const bool direct = p.block == 1 && is_pointwise(g);  // grad_col is grad_x itself
#pragma omp parallel if (worth_threading(g))
    {
      std::vector<T> col(direct ? 0 : p.k * p.block * p.plane), gy(p.block > 1 ? p.cout_g * p.block * p.plane : 0);
#pragma omp for schedule(static)
      for (std::int64_t blk = 0; blk < p.blocks; ++blk) {
        const std::int64_t n0 = p.first(blk), nb = p.count(g, blk), cols = nb * p.plane;
        if (!direct) std::fill_n(pgx + n0 * p.x_image, nb * p.x_image, T(0));
        for (std::int64_t grp = 0; grp < g.groups; ++grp) {
          T* gx_g = pgx + n0 * p.x_image + grp * p.cin_g * p.in_plane;
          const T* gy_g = pg + n0 * p.y_image + grp * p.cout_g * p.plane;
          if (nb > 1) {
            gather_block(pg, n0, nb, grp * p.cout_g, p.cout_g, p.y_image, p.plane, gy.data());
            gy_g = gy.data();
          }
          // grad_col[K, B*P] = W_g^T @ grad_y_g
          gemm<T>(true, false, p.k, cols, p.cout_g, T(1), pw + grp * p.cout_g * p.k, p.k, gy_g, cols, T(0),
                  direct ? gx_g : col.data(), cols);
          if (!direct)
            for (std::int64_t b = 0; b < nb; ++b) col2im(col.data() + b * p.plane, cols, p.cin_g, g, gx_g + b * p.x_image);
        }
      }
    }
  });
}

void im2col_conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g) {
  dispatch_floating(grad_y.dtype(), "conv2d backward (weight)", [&](auto tag) {
    using T = decltype(tag);
    const ConvPlan p(g);
    const T* pg = grad_y.data<T>();
    const T* px = x.data<T>();
    T* pgw = grad_w.data<T>();
    const std::int64_t w_size = g.out_channels * p.k;
    // Each thread sums its blocks into a private copy; the copies are added at the end.
    std::vector<std::vector<T>> partial(omp_get_max_threads());
#pragma omp parallel if (worth_threading(g))
    {
      std::vector<T>& acc = partial[omp_get_thread_num()];
      acc.assign(w_size, T(0));
      std::vector<T> col(p.k * p.block * p.plane), gy(p.block > 1 ? p.cout_g * p.block * p.plane : 0);
#pragma omp for schedule(static)
      for (std::int64_t blk = 0; blk < p.blocks; ++blk) {
        const std::int64_t n0 = p.first(blk), nb = p.count(g, blk), cols = nb * p.plane;
        for (std::int64_t grp = 0; grp < g.groups; ++grp) {
          const T* c = block_columns(px, g, p, n0, nb, grp, col);
          const T* gy_g = pg + n0 * p.y_image + grp * p.cout_g * p.plane;
          if (nb > 1) {
            gather_block(pg, n0, nb, grp * p.cout_g, p.cout_g, p.y_image, p.plane, gy.data());
            gy_g = gy.data();
          }
          // grad_W_g[C_out/g, K] += grad_y_g[C_out/g, B*P] @ col^T
          gemm<T>(false, true, p.cout_g, p.k, cols, T(1), gy_g, cols, c, cols, T(1), acc.data() + grp * p.cout_g * p.k,
                  p.k);
        }
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
