// linear: y[N, out] = x[N, in] @ W[out, in]^T + b[out]
//   backward: dx = dy @ W,  dW = dy^T @ x,  db = sum over rows of dy
// In input-gradient-only mode (W and b frozen) only dx is computed.
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_floating(x, "linear");
  check_rank(x, 2, "linear", "x");
  check_rank(w, 2, "linear", "weight");
  check_same_dtype(x, w, "linear");
  check_same_device(x, w, "linear");
  OA_CHECK(x.size(1) == w.size(1), "linear: input {} has {} features but weight {} expects {}", shape_str(x.shape()),
           x.size(1), shape_str(w.shape()), w.size(1));
  if (b.defined()) {
    check_same_dtype(x, b, "linear");
    OA_CHECK(b.dim() == 1 && b.size(0) == w.size(0), "linear: bias {} does not match weight {}",
             shape_str(b.shape()), shape_str(w.shape()));
  }
  Tensor y = Tensor::empty({x.size(0), w.size(0)}, x.dtype(), x.device());
  backend::matmul(x, false, w, true, y);
  if (b.defined()) backend::add_row_bias(b, y);
  return record(y, {&x, &w, &b}, "linear",
                [x = x.detach(), w = w.detach(), has_bias = b.defined()](const Tensor& grad, const std::vector<bool>& needs) {
                  std::vector<Tensor> grads(3);
                  if (needs[0]) {
                    grads[0] = empty_like(x);
                    backend::matmul(grad, false, w, false, grads[0]);
                  }
                  if (needs[1]) {
                    grads[1] = empty_like(w);
                    backend::matmul(grad, true, x, false, grads[1]);
                  }
                  if (has_bias && needs[2]) {
                    grads[2] = Tensor::empty({w.size(0)}, grad.dtype(), grad.device());
                    backend::sum_rows(grad, grads[2]);
                  }
                  return grads;
                });
}

}  // namespace oa
