// log_softmax over the classes of [N, C] logits:
//   y[n, c] = x[n, c] - log sum_j exp(x[n, j])
//   backward: dx = dy - softmax(x) * sum_c dy   (softmax = exp(y))
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

Tensor log_softmax(const Tensor& logits) {
  check_floating(logits, "log_softmax");
  check_rank(logits, 2, "log_softmax", "logits");
  OA_CHECK(logits.size(1) > 0, "log_softmax: no classes in {}", describe(logits));
  Tensor y = empty_like(logits);
  backend::log_softmax_forward(logits, y);
  return record(y, {&logits}, "log_softmax", [y = y.detach()](const Tensor& grad, const std::vector<bool>&) {
    Tensor grad_x = empty_like(y);
    backend::log_softmax_backward(y, grad, grad_x);
    return std::vector<Tensor>{grad_x};
  });
}

}  // namespace oa
