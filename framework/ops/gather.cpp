// gather: out[n] = x[n, index[n]]; backward: dx[n, index[n]] = dout[n], zero elsewhere.
// one_hot: [N] int64 labels -> [N, C] with a 1 at each label (no gradient: labels are data).
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

Tensor gather(const Tensor& x, const Tensor& index) {
  check_floating(x, "gather");
  check_labels(x, index, "gather");
  Tensor out = Tensor::empty({x.size(0)}, x.dtype(), x.device());
  backend::gather_rows(x, index, out);
  return record(out, {&x}, "gather", [index, shape = x.shape()](const Tensor& grad, const std::vector<bool>&) {
    Tensor grad_x = Tensor::empty(shape, grad.dtype(), grad.device());
    backend::gather_rows_backward(grad, index, grad_x);
    return std::vector<Tensor>{grad_x};
  });
}

Tensor one_hot(const Tensor& labels, std::int64_t classes, DType dtype) {
  OA_CHECK(classes > 0, "one_hot: {} classes", classes);
  Tensor out = Tensor::empty({labels.numel(), classes}, dtype, labels.device());
  check_labels(out, labels, "one_hot");
  backend::one_hot(labels, out);
  return out;
}

}  // namespace oa
