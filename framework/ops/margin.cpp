// margin (the Carlini-Wagner difference of logits) for [N, C] logits and labels y:
//   margin[n] = z[n, y_n] - max_{j != y_n} z[n, j]
// It is positive while sample n is classified as y_n. CW's untargeted loss is
// max(margin, -kappa); the targeted one uses -margin with the target as label.
//   backward: d margin / d z[n, y_n] = 1, d margin / d z[n, j*] = -1 (j* the runner-up).
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

Tensor margin(const Tensor& logits, const Tensor& labels) {
  check_floating(logits, "margin");
  check_labels(logits, labels, "margin");
  OA_CHECK(logits.size(1) >= 2, "margin: needs at least 2 classes, got {}", describe(logits));
  Tensor out = Tensor::empty({logits.size(0)}, logits.dtype(), logits.device());
  Tensor runner_up = Tensor::empty({logits.size(0)}, DType::Int64, logits.device());
  backend::margin_forward(logits, labels, out, runner_up);
  return record(out, {&logits}, "margin",
                [labels, runner_up, shape = logits.shape()](const Tensor& grad, const std::vector<bool>&) {
                  Tensor grad_x = Tensor::empty(shape, grad.dtype(), grad.device());
                  backend::margin_backward(grad, labels, runner_up, grad_x);
                  return std::vector<Tensor>{grad_x};
                });
}

}  // namespace oa
