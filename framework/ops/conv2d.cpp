// conv2d: y[n, co, oh, ow] = b[co] + sum_{ci, kh, kw} w[co, ci, kh, kw] * x[n, ci, oh*s - p + kh, ow*s - p + kw]
// (ci runs over the input channels of co's group). Output size: OH = (H + 2p - KH) / s + 1.
//   backward: dx = the transposed convolution of dy with w   (conv2d_backward_input)
//             dw = the correlation of dy with x               (conv2d_backward_weight)
//             db = sum of dy over n, oh, ow
// Each is computed only when that input needs it: attacks freeze w and b, so their
// backward runs the input kernel alone.
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/conv2d_geometry.h"
#include "framework/ops/ops.h"

namespace oa {

backend::Conv2dGeometry conv2d_geometry(const Tensor& x, const Shape& w, std::int64_t stride, std::int64_t padding,
                                        std::int64_t groups, const char* op) {
  check_floating(x, op);
  check_rank(x, 4, op, "input");
  OA_CHECK(w.size() == 4, "{}: the weight must be 4-D, got {}", op, shape_str(w));
  OA_CHECK(stride >= 1 && padding >= 0 && groups >= 1, "{}: invalid stride {}, padding {} or groups {}", op, stride,
           padding, groups);
  const backend::Conv2dGeometry g{
      .batch = x.size(0),
      .in_channels = x.size(1),
      .in_h = x.size(2),
      .in_w = x.size(3),
      .out_channels = w[0],
      .kernel_h = w[2],
      .kernel_w = w[3],
      .stride = stride,
      .padding = padding,
      .groups = groups,
      .out_h = (x.size(2) + 2 * padding - w[2]) / stride + 1,
      .out_w = (x.size(3) + 2 * padding - w[3]) / stride + 1,
  };
  OA_CHECK(g.in_channels % groups == 0 && g.out_channels % groups == 0 && w[1] * groups == g.in_channels,
           "{}: input {} with {} groups does not match weight {}", op, shape_str(x.shape()), groups, shape_str(w));
  OA_CHECK(x.size(2) + 2 * padding >= w[2] && x.size(3) + 2 * padding >= w[3],
           "{}: kernel {}x{} is larger than the padded input {}x{}", op, w[2], w[3], x.size(2) + 2 * padding,
           x.size(3) + 2 * padding);
  return g;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride, std::int64_t padding,
              std::int64_t groups) {
  check_same_dtype(x, w, "conv2d");
  check_same_device(x, w, "conv2d");
  const backend::Conv2dGeometry g = conv2d_geometry(x, w.shape(), stride, padding, groups, "conv2d");
  if (b.defined()) {
    check_same_dtype(x, b, "conv2d");
    OA_CHECK(b.dim() == 1 && b.size(0) == g.out_channels, "conv2d: bias {} does not match {} output channels",
             shape_str(b.shape()), g.out_channels);
  }
  Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_h, g.out_w}, x.dtype(), x.device());
  backend::conv2d_forward(x, w, b.defined() ? &b : nullptr, y, g);

  return record(y, {&x, &w, &b}, "conv2d",
                [x = x.detach(), w = w.detach(), g](const Tensor& grad, const std::vector<bool>& needs) {
                  std::vector<Tensor> grads(3);
                  if (needs[0]) {
                    grads[0] = empty_like(x);
                    backend::conv2d_backward_input(grad, w, grads[0], g);
                  }
                  if (needs[1]) {
                    grads[1] = empty_like(w);
                    backend::conv2d_backward_weight(grad, x, grads[1], g);
                  }
                  if (needs[2]) {
                    grads[2] = Tensor::empty({g.out_channels}, grad.dtype(), grad.device());
                    backend::conv2d_backward_bias(grad, grads[2]);
                  }
                  return grads;
                });
}

}  // namespace oa
