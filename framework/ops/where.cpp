// where: a choice between two tensors, made per row by a mask. For a [N] and b, out [N, ...]:
//   out[i, ...] = mask[i] != 0 ? a[i, ...] : b[i, ...]
//   backward: dL/da[i, ...] = mask[i] != 0 ? dL/dout[i, ...] : 0
//             dL/db[i, ...] = mask[i] != 0 ? 0 : dL/dout[i, ...]
// The mask is data (it gets no gradient): typically one flag per sample of a batch.
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
  check_floating(a, "where");
  check_same_dtype(a, b, "where");
  check_same_dtype(a, mask, "where");
  check_same_device(a, b, "where");
  check_same_device(a, mask, "where");
  check_same_shape(a, b, "where");
  check_rank(mask, 1, "where", "mask");
  OA_CHECK(a.dim() >= 1 && a.size(0) == mask.size(0), "where: the mask {} has not one value per row of {}",
           describe(mask), describe(a));
  Tensor out = empty_like(a);
  backend::where_rows(mask, a, b, out);
  return record(out, {&a, &b}, "where", [mask = mask.detach()](const Tensor& grad, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(2);
    const Tensor zeros = Tensor::zeros(grad.shape(), grad.dtype(), grad.device());
    if (needs[0]) {
      grads[0] = empty_like(grad);
      backend::where_rows(mask, grad, zeros, grads[0]);
    }
    if (needs[1]) {
      grads[1] = empty_like(grad);
      backend::where_rows(mask, zeros, grad, grads[1]);
    }
    return grads;
  });
}

}  // namespace oa
