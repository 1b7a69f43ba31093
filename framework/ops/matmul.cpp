// matmul: C[M, N] = A[M, K] @ B[K, N]
//   backward: dA = dC @ B^T,  dB = A^T @ dC  (each computed only when needed)
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_floating(a, "matmul");
  check_rank(a, 2, "matmul", "a");
  check_rank(b, 2, "matmul", "b");
  check_same_dtype(a, b, "matmul");
  check_same_device(a, b, "matmul");
  OA_CHECK(a.size(1) == b.size(0), "matmul: inner dimensions differ: {} @ {}", shape_str(a.shape()),
           shape_str(b.shape()));
  Tensor c = Tensor::empty({a.size(0), b.size(1)}, a.dtype(), a.device());
  backend::matmul(a, false, b, false, c);
  return record(c, {&a, &b}, "matmul", [a = a.detach(), b = b.detach()](const Tensor& grad, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(2);
    if (needs[0]) {
      grads[0] = empty_like(a);
      backend::matmul(grad, false, b, true, grads[0]);
    }
    if (needs[1]) {
      grads[1] = empty_like(b);
      backend::matmul(a, true, grad, false, grads[1]);
    }
    return grads;
  });
}

}  // namespace oa
