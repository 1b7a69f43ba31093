// Unary elementwise ops. The math of each (value and derivative) is in elementwise_math.h;
// this file gives every functor the same forward and backward:
//   forward:  y = f(x)
//   backward: dL/dx = dL/dy * f'(x, y)
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/backend/elementwise_math.h"
#include "framework/ops/ops.h"

namespace oa {

namespace {
template <class F>
Tensor unary(const Tensor& x, const char* name, F f = F{}) {
  check_floating(x, name);
  Tensor y = empty_like(x);
  backend::map_unary(x, y, f);
  return record(y, {&x}, name, [x = x.detach(), y = y.detach(), f](const Tensor& grad, const std::vector<bool>&) {
    Tensor grad_x = empty_like(x);
    backend::map_unary_backward(x, y, grad, grad_x, f);
    return std::vector<Tensor>{grad_x};
  });
}
}  // namespace

Tensor neg(const Tensor& x) { return unary<math::Neg>(x, "neg"); }
Tensor exp(const Tensor& x) { return unary<math::Exp>(x, "exp"); }
Tensor log(const Tensor& x) { return unary<math::Log>(x, "log"); }
Tensor tanh(const Tensor& x) { return unary<math::Tanh>(x, "tanh"); }
Tensor abs(const Tensor& x) { return unary<math::Abs>(x, "abs"); }
Tensor sqrt(const Tensor& x) { return unary<math::Sqrt>(x, "sqrt"); }
Tensor square(const Tensor& x) { return unary<math::Square>(x, "square"); }
Tensor relu(const Tensor& x) { return unary<math::Relu>(x, "relu"); }
Tensor sign(const Tensor& x) { return unary<math::Sign>(x, "sign"); }
Tensor add_scalar(const Tensor& x, double s) { return unary(x, "add_scalar", math::AddScalar{s}); }
Tensor mul_scalar(const Tensor& x, double s) { return unary(x, "mul_scalar", math::MulScalar{s}); }
Tensor pow_scalar(const Tensor& x, double p) { return unary(x, "pow_scalar", math::PowScalar{p}); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  OA_CHECK(lo <= hi, "clamp: lower bound {} is above upper bound {}", lo, hi);
  return unary(x, "clamp", math::Clamp{lo, hi});
}

}  // namespace oa
