// Direct sparse convolution on the CPU, for pruned weights in CSR form (rows: output
// channels; columns k = (c*KH + kh)*KW + kw). No im2col: each nonzero weight is one
// contiguous AXPY over an output plane, so the cost follows the nonzeros.
//
// The trick that makes every tap contiguous: split each zero-padded input plane (padding p,
// stride s) into s x s phases of Hq x Wq,
//     phase(c, a, b)[i*Wq + j] = x_pad[c, i*s + a, j*s + b],
// and keep the output "wide", with row stride Wq. Output pixel (oh, ow) of tap (kh, kw) reads
//     x_pad[c, oh*s + kh, ow*s + kw] = phase(c, kh % s, kw % s)[(oh + kh/s)*Wq + ow + kw/s],
// one fixed offset for the whole plane:  wide[t] += w * phase[t + offset],  t < OH*Wq.
// Columns ow >= OW of the wide plane are junk (they read across row ends) and are dropped.
// The input gradient is the adjoint: d_phase[t + offset] += w * dy_wide[t], with the junk
// columns of dy_wide zero, then each d_phase entry goes back to its input pixel.
#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "framework/backend/cpu/kernels.h"

namespace oa::cpu {

namespace {

struct PhaseLayout {
  std::int64_t s, hq, wq, size;  // size: one phase, with room for the widest tap's overrun
  explicit PhaseLayout(const Conv2dGeometry& g)
      : s(g.stride),
        hq((g.in_h + 2 * g.padding + g.stride - 1) / g.stride),
        wq((g.in_w + 2 * g.padding + g.stride - 1) / g.stride),
        size(hq * wq + g.kernel_w) {}
  std::int64_t phases_per_image(const Conv2dGeometry& g) const { return g.in_channels * s * s * size; }
};

// Copies one image's planes into its phases (to_phases) or back (from_phases), row by row:
// input row ih lands in phase row (ih + p) / s, and its pixels iw = first, first + s, ...
// (those with (iw + p) % s == b) fill phase (.., b) contiguously. The padding is never
// written, so phases that start zeroed keep zero padding.
template <class T, bool kToPhases>
void copy_phases(const Conv2dGeometry& g, const PhaseLayout& l, std::conditional_t<kToPhases, const T*, T*> image,
                 std::conditional_t<kToPhases, T*, const T*> phases) {
  for (std::int64_t c = 0; c < g.in_channels; ++c)
    for (std::int64_t ih = 0; ih < g.in_h; ++ih) {
      const std::int64_t ph = ih + g.padding;
      auto* row = image + (c * g.in_h + ih) * g.in_w;
      for (std::int64_t b = 0; b < l.s; ++b) {
        const std::int64_t first = ((b - g.padding) % l.s + l.s) % l.s;  // the first iw with (iw + p) % s == b
        auto* dst = phases + ((c * l.s + ph % l.s) * l.s + b) * l.size + (ph / l.s) * l.wq + (first + g.padding) / l.s;
        for (std::int64_t iw = first, j = 0; iw < g.in_w; iw += l.s, ++j) {
          if constexpr (kToPhases) dst[j] = row[iw];
          else row[iw] = dst[j];
        }
      }
    }
}

// For every nonzero of w, the offset of its tap in the phases: phase(c, kh % s, kw % s) plus
// (kh / s) rows and kw / s columns.
std::vector<std::int64_t> tap_offsets(const CsrMatrix& w, const Conv2dGeometry& g, const PhaseLayout& l) {
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(w.nonzeros()));
  const std::int64_t taps = g.kernel_h * g.kernel_w;
  for (std::size_t e = 0; e < offsets.size(); ++e) {
    const std::int64_t k = w.col_index[e], c = k / taps, kh = k % taps / g.kernel_w, kw = k % g.kernel_w;
    offsets[e] = ((c * l.s + kh % l.s) * l.s + kw % l.s) * l.size + (kh / l.s) * l.wq + kw / l.s;
  }
  return offsets;
}

bool worth_threading(const Conv2dGeometry& g, const CsrMatrix& w) {
  return g.batch > 1 && w.nonzeros() * g.batch * g.out_h * g.out_w > (1 << 18);
}

template <class T>
void axpy_n(T* dst, T alpha, const T* src, std::int64_t n) {
  for (std::int64_t t = 0; t < n; ++t) dst[t] += alpha * src[t];
}

}  // namespace

void sparse_conv2d_forward(const Tensor& x, const CsrMatrix& w, const Tensor* bias, Tensor& y,
                           const Conv2dGeometry& g) {
  dispatch_floating(x.dtype(), "sparse_conv2d", [&](auto tag) {
    using T = decltype(tag);
    const PhaseLayout l(g);
    const auto offsets = tap_offsets(w, g, l);
    const T* px = x.data<T>();
    const T* values = w.values.data<T>();
    const T* pb = bias ? bias->data<T>() : nullptr;
    T* py = y.data<T>();
    const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w, wide = g.out_h * l.wq;
#pragma omp parallel if (worth_threading(g, w))
    {
      std::vector<T> phases(static_cast<std::size_t>(l.phases_per_image(g)), T(0)), acc(static_cast<std::size_t>(wide));
#pragma omp for schedule(static)
      for (std::int64_t n = 0; n < g.batch; ++n) {
        copy_phases<T, true>(g, l, px + n * g.in_channels * in_plane, phases.data());
        for (std::int64_t co = 0; co < g.out_channels; ++co) {
          std::fill(acc.begin(), acc.end(), pb ? pb[co] : T(0));
          for (std::int64_t e = w.row_start[co]; e < w.row_start[co + 1]; ++e)
            axpy_n(acc.data(), values[e], phases.data() + offsets[e], wide);
          T* yo = py + (n * g.out_channels + co) * out_plane;
          for (std::int64_t oh = 0; oh < g.out_h; ++oh) std::copy_n(acc.data() + oh * l.wq, g.out_w, yo + oh * g.out_w);
        }
      }
    }
  });
}

void sparse_conv2d_backward_input(const Tensor& grad_y, const CsrMatrix& w, Tensor& grad_x, const Conv2dGeometry& g) {
  dispatch_floating(grad_y.dtype(), "sparse_conv2d backward (input)", [&](auto tag) {
    using T = decltype(tag);
    const PhaseLayout l(g);
    const auto offsets = tap_offsets(w, g, l);
    const T* pg = grad_y.data<T>();
    const T* values = w.values.data<T>();
    T* pgx = grad_x.data<T>();
    const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w, wide = g.out_h * l.wq;
#pragma omp parallel if (worth_threading(g, w))
    {
      std::vector<T> d_phases(static_cast<std::size_t>(l.phases_per_image(g))), dy(static_cast<std::size_t>(wide), T(0));
#pragma omp for schedule(static)
      for (std::int64_t n = 0; n < g.batch; ++n) {
        std::fill(d_phases.begin(), d_phases.end(), T(0));
        for (std::int64_t co = 0; co < g.out_channels; ++co) {
          const T* go = pg + (n * g.out_channels + co) * out_plane;  // dy's junk columns stay zero
          for (std::int64_t oh = 0; oh < g.out_h; ++oh) std::copy_n(go + oh * g.out_w, g.out_w, dy.data() + oh * l.wq);
          for (std::int64_t e = w.row_start[co]; e < w.row_start[co + 1]; ++e)
            axpy_n(d_phases.data() + offsets[e], values[e], dy.data(), wide);
        }
        copy_phases<T, false>(g, l, pgx + n * g.in_channels * in_plane, d_phases.data());
      }
    }
  });
}

}  // namespace oa::cpu
