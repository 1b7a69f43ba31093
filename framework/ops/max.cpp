// max over one dim.
//   forward:  values[...] = max_k x[..., k, ...], remembering the argmax k
//   backward: the gradient goes to the argmax element only (the first one on ties).
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

Tensor max(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_floating(x, "max");
  const int d = normalize_dim(dim, x.dim(), "max");
  OA_CHECK(x.shape()[d] > 0, "max: dimension {} of {} is empty", d, describe(x));
  Shape kept = x.shape();
  kept[d] = 1;
  Tensor values = Tensor::empty(kept, x.dtype(), x.device());
  Tensor indices = Tensor::empty(kept, DType::Int64, x.device());
  backend::max_dim(x, d, values, indices);
  values = record(values, {&x}, "max", [indices, d, shape = x.shape()](const Tensor& grad, const std::vector<bool>&) {
    Tensor grad_x = Tensor::empty(shape, grad.dtype(), grad.device());
    backend::max_dim_backward(grad, indices, d, grad_x);
    return std::vector<Tensor>{grad_x};
  });
  if (keepdim) return values;
  Shape squeezed = x.shape();
  squeezed.erase(squeezed.begin() + d);
  return values.reshape(squeezed);
}

}  // namespace oa
