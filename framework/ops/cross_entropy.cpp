// cross_entropy(logits [N, C], labels [N]) with label smoothing eps:
//   loss = mean_n [ -(1 - eps) * log p[n, y_n] - eps / C * sum_c log p[n, c] ],  log p = log_softmax
// Built from differentiable ops, so its backward is theirs: dloss/dlogits = (softmax - target) / N
// with target = (1 - eps) * one_hot(y) + eps / C.
#include "framework/ops/ops.h"

namespace oa {

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing) {
  check_labels(logits, labels, "cross_entropy");
  OA_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy: label_smoothing {} is outside [0, 1]",
           label_smoothing);
  const Tensor log_p = log_softmax(logits);
  Tensor loss = mean(neg(gather(log_p, labels)));
  if (label_smoothing == 0) return loss;
  const Tensor uniform_term = neg(mean(log_p));  // mean over n and c = sum_c / C, then mean over n
  return add(mul_scalar(loss, 1 - label_smoothing), mul_scalar(uniform_term, label_smoothing));
}

}  // namespace oa
