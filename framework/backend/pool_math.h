#pragma once
// The per-window math of max pooling, shared by the CPU loop (cpu/pool2d.cpp) and the CUDA
// kernel (cuda/pool2d.cu), so both pick the same maximum.
#include <cmath>
#include <cstdint>

#include "framework/backend/geometry.h"
#include "framework/backend/elementwise_math.h"  // OA_HOST_DEVICE

namespace oa::backend {

// The largest value of the window of output pixel (oh, ow) inside one image plane, and in
// *arg its flat index ih * W + iw in the plane. Positions in the padding are skipped. Strictly
// greater wins, so the first maximum is kept; the first element is taken whatever it is, and
// the first NaN stays (math::beats_max), as in PyTorch.
template <class T>
OA_HOST_DEVICE inline T window_max(const T* plane, const Pool2dGeometry& g, std::int64_t oh, std::int64_t ow,
                                   std::int64_t* arg) {
  T best = static_cast<T>(-INFINITY);
  *arg = -1;
  for (std::int64_t kh = 0; kh < g.kernel; ++kh) {
    const std::int64_t ih = oh * g.stride - g.padding + kh;
    if (ih < 0 || ih >= g.in_h) continue;
    for (std::int64_t kw = 0; kw < g.kernel; ++kw) {
      const std::int64_t iw = ow * g.stride - g.padding + kw;
      if (iw < 0 || iw >= g.in_w) continue;
      const T v = plane[ih * g.in_w + iw];
      if (math::beats_max(v, best) || *arg < 0) {
        best = v;
        *arg = ih * g.in_w + iw;
      }
    }
  }
  return best;
}

}  // namespace oa::backend
