// The reference convolution: the definition as seven plain loops, next to the fast kernel
// (cpu/conv2d.cpp: im2col + GEMM, or oneDNN) that tests/unit/forward.cpp checks against it.
#include "framework/backend/cpu/kernels.h"

namespace oa::cpu {

void conv2d_forward_reference(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                              const Conv2dGeometry& g) {
  dispatch_floating(x.dtype(), "conv2d_forward_reference", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pw = w.data<T>();
    const T* pb = bias ? bias->data<T>() : nullptr;
    T* py = y.data<T>();
    const std::int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
    for (std::int64_t n = 0; n < g.batch; ++n)
      for (std::int64_t co = 0; co < g.out_channels; ++co) {
        const std::int64_t group = co / cout_g;
        for (std::int64_t oh = 0; oh < g.out_h; ++oh)
          for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
            double s = pb ? pb[co] : 0.0;
            for (std::int64_t c = 0; c < cin_g; ++c)
              for (std::int64_t kh = 0; kh < g.kernel_h; ++kh)
                for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
                  const std::int64_t ih = oh * g.stride - g.padding + kh, iw = ow * g.stride - g.padding + kw;
                  if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;  // zero padding
                  const std::int64_t ci = group * cin_g + c;
                  s += static_cast<double>(pw[((co * cin_g + c) * g.kernel_h + kh) * g.kernel_w + kw]) *
                       static_cast<double>(px[((n * g.in_channels + ci) * g.in_h + ih) * g.in_w + iw]);
                }
            py[((n * g.out_channels + co) * g.out_h + oh) * g.out_w + ow] = static_cast<T>(s);
          }
      }
  });
}

}  // namespace oa::cpu
