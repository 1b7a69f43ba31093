// Binary elementwise ops with NumPy broadcasting.
//   forward:  out = f(a, b) at the broadcast shape
//   backward: dL/da = sum_to(dL/dout * df/da, shape of a)   (and likewise for b):
//             a dimension that was broadcast receives the sum of the gradients it fed.
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/backend/elementwise_math.h"
#include "framework/ops/ops.h"

namespace oa {

namespace {
template <class F>
Tensor binary(const Tensor& a, const Tensor& b, const char* name) {
  check_floating(a, name);
  check_same_dtype(a, b, name);
  check_same_device(a, b, name);
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name), a.dtype(), a.device());
  backend::map_binary(a, b, out, F{});
  return record(out, {&a, &b}, name,
                [a = a.detach(), b = b.detach(), shape = out.shape()](const Tensor& grad, const std::vector<bool>& needs) {
                  std::vector<Tensor> grads(2);
                  Tensor full = Tensor::empty(shape, grad.dtype(), grad.device());
                  if (needs[0]) {
                    backend::map_binary_grad(a, b, grad, full, math::GradA<F>{});
                    grads[0] = sum_to(full, a.shape());
                  }
                  if (needs[1]) {
                    if (needs[0]) full = Tensor::empty(shape, grad.dtype(), grad.device());
                    backend::map_binary_grad(a, b, grad, full, math::GradB<F>{});
                    grads[1] = sum_to(full, b.shape());
                  }
                  return grads;
                });
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary<math::Add>(a, b, "add"); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary<math::Sub>(a, b, "sub"); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary<math::Mul>(a, b, "mul"); }
Tensor div(const Tensor& a, const Tensor& b) { return binary<math::Div>(a, b, "div"); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary<math::Maximum>(a, b, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary<math::Minimum>(a, b, "minimum"); }

}  // namespace oa
