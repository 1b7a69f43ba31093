// conv2d: y[n, co, oh, ow] = b[co] + sum_{ci, kh, kw} w[co, ci, kh, kw] * x[n, ci, oh*s - p + kh, ow*s - p + kw]
// (ci runs over the input channels of co's group). Output size: OH = (H + 2p - KH) / s + 1.
//   backward: dx = the transposed convolution of dy with w   (conv2d_backward_input)
//             dw = the correlation of dy with x               (conv2d_backward_weight)
//             db = sum of dy over n, oh, ow
// Each is computed only when that input needs it: attacks freeze w and b, so their
// backward runs the input kernel alone.
//
// conv2d_relu: y = max(0, conv2d(x, w, b)) in one kernel (the ReLU applied as the convolution
// writes its output: a oneDNN post-op, cuDNN's bias-activation call), which saves the ReLU's
// own pass over the activations. backward: dL/dconv = dL/dy * [y > 0], then conv2d's backward.
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/backend/elementwise_math.h"
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

namespace {

// The gradients of x, w and b (those `needs` asks for) from the gradient of the convolution's
// output (before any ReLU).
std::vector<Tensor> conv2d_gradients(const Tensor& grad, const Tensor& x, const Tensor& w,
                                     const backend::Conv2dGeometry& g, const std::vector<bool>& needs) {
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
}

// conv2d, or conv2d_relu when `relu`.
Tensor convolution(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride, std::int64_t padding,
                   std::int64_t groups, bool relu) {
  const char* op = relu ? "conv2d_relu" : "conv2d";
  check_same_dtype(x, w, op);
  check_same_device(x, w, op);
  const backend::Conv2dGeometry g = conv2d_geometry(x, w.shape(), stride, padding, groups, op);
  if (b.defined()) {
    check_same_dtype(x, b, op);
    OA_CHECK(b.dim() == 1 && b.size(0) == g.out_channels, "{}: bias {} does not match {} output channels", op,
             shape_str(b.shape()), g.out_channels);
  }
  Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_h, g.out_w}, x.dtype(), x.device());
  const Tensor* bias = b.defined() ? &b : nullptr;
  if (relu) backend::conv2d_relu_forward(x, w, bias, y, g);
  else backend::conv2d_forward(x, w, bias, y, g);

  // The backward keeps y only to mask by it (a plain conv2d does not hold its output alive).
  return record(y, {&x, &w, &b}, op,
                [x = x.detach(), w = w.detach(), y = relu ? y.detach() : Tensor(), g](const Tensor& grad,
                                                                                      const std::vector<bool>& needs) {
                  if (!y.defined()) return conv2d_gradients(grad, x, w, g, needs);
                  // The ReLU's backward reads only its output (math::Relu): y stands in for its input.
                  Tensor grad_before_relu = empty_like(y);
                  backend::map_unary_backward(y, y, grad, grad_before_relu, math::Relu{});
                  return conv2d_gradients(grad_before_relu, x, w, g, needs);
                });
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride, std::int64_t padding,
              std::int64_t groups) {
  return convolution(x, w, b, stride, padding, groups, /*relu=*/false);
}

Tensor conv2d_relu(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride, std::int64_t padding,
                   std::int64_t groups) {
  return convolution(x, w, b, stride, padding, groups, /*relu=*/true);
}

}  // namespace oa
