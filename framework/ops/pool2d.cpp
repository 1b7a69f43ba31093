// Pooling over square k x k windows with stride s and zero padding p;
// output size OH = (H + 2p - k) / s + 1.
//   max_pool2d:  y = max over the window (padding never wins); backward: dy goes to the argmax.
//   avg_pool2d:  y = sum over the window / k^2; backward: dy / k^2 to every window element.
//   global_avg_pool2d: the mean over H and W, [N, C, H, W] -> [N, C].
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

namespace {
backend::Pool2dGeometry pool_geometry(const Tensor& x, std::int64_t kernel, std::int64_t stride, std::int64_t padding,
                                      const char* op) {
  check_floating(x, op);
  check_rank(x, 4, op, "input");
  OA_CHECK(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel,
           "{}: invalid kernel {}, stride {}, padding {} (padding may be at most half the kernel)", op, kernel, stride,
           padding);
  OA_CHECK(x.size(2) + 2 * padding >= kernel && x.size(3) + 2 * padding >= kernel,
           "{}: kernel {} is larger than the padded input {}", op, kernel, shape_str(x.shape()));
  return {.batch = x.size(0),
          .channels = x.size(1),
          .in_h = x.size(2),
          .in_w = x.size(3),
          .kernel = kernel,
          .stride = stride,
          .padding = padding,
          .out_h = (x.size(2) + 2 * padding - kernel) / stride + 1,
          .out_w = (x.size(3) + 2 * padding - kernel) / stride + 1};
}
}  // namespace

Tensor max_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
  const auto g = pool_geometry(x, kernel, stride, padding, "max_pool2d");
  Tensor y = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, x.dtype(), x.device());
  Tensor indices = Tensor::empty(y.shape(), DType::Int64, x.device());
  backend::maxpool2d_forward(x, y, indices, g);
  return record(y, {&x}, "max_pool2d", [indices, g, shape = x.shape()](const Tensor& grad, const std::vector<bool>&) {
    Tensor grad_x = Tensor::empty(shape, grad.dtype(), grad.device());
    backend::maxpool2d_backward(grad, indices, grad_x, g);
    return std::vector<Tensor>{grad_x};
  });
}

Tensor avg_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
  const auto g = pool_geometry(x, kernel, stride, padding, "avg_pool2d");
  Tensor y = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, x.dtype(), x.device());
  backend::avgpool2d_forward(x, y, g);
  return record(y, {&x}, "avg_pool2d", [g, shape = x.shape()](const Tensor& grad, const std::vector<bool>&) {
    Tensor grad_x = Tensor::empty(shape, grad.dtype(), grad.device());
    backend::avgpool2d_backward(grad, grad_x, g);
    return std::vector<Tensor>{grad_x};
  });
}

Tensor global_avg_pool2d(const Tensor& x) {
  check_rank(x, 4, "global_avg_pool2d", "input");
  return mean(x, {2, 3});
}

}  // namespace oa
