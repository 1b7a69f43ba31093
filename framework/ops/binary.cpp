// Binary elementwise ops with NumPy broadcasting.
//   forward:  out = f(a, b) at the broadcast shape
//   backward: dL/da = sum_to(dL/dout * df/da, shape of a)   (and likewise for b):
//             a dimension that was broadcast receives the sum of the gradients it fed.
#include <type_traits>

#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/backend/elementwise_math.h"
#include "framework/ops/ops.h"

namespace oa {

namespace {

// d(a + b)/da = d(a + b)/db = d(a - b)/da = 1: those gradients are the incoming one itself
// (summed to the operand's shape), with no pass over it.
template <class F>
constexpr bool kUnitPartialA = std::is_same_v<F, math::Add> || std::is_same_v<F, math::Sub>;
template <class F>
constexpr bool kUnitPartialB = std::is_same_v<F, math::Add>;

template <class F>
Tensor binary(const Tensor& a, const Tensor& b, const char* name) {
  check_floating(a, name);
  check_same_dtype(a, b, name);
  check_same_device(a, b, name);
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name), a.dtype(), a.device());
  backend::map_binary(a, b, out, F{});
  return record(out, {&a, &b}, name,
                [a = a.detach(), b = b.detach(), shape = out.shape()](const Tensor& grad, const std::vector<bool>& needs) {
                  // dL/d(operand) at the broadcast shape, summed to the operand's shape.
                  const auto operand_grad = [&](auto partial, bool unit, const Shape& operand_shape) {
                    if (unit) return sum_to(grad, operand_shape);
                    Tensor full = Tensor::empty(shape, grad.dtype(), grad.device());
                    backend::map_binary_grad(a, b, grad, full, partial);
                    return sum_to(full, operand_shape);
                  };
                  std::vector<Tensor> grads(2);
                  if (needs[0]) grads[0] = operand_grad(math::GradA<F>{}, kUnitPartialA<F>, a.shape());
                  if (needs[1]) grads[1] = operand_grad(math::GradB<F>{}, kUnitPartialB<F>, b.shape());
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
