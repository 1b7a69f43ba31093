// transpose of a matrix: out[j, i] = x[i, j]; the backward transposes the gradient back.
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

Tensor transpose(const Tensor& x) {
  check_rank(x, 2, "transpose", "x");
  Tensor out = Tensor::empty({x.size(1), x.size(0)}, x.dtype(), x.device());
  backend::transpose2d(x, out);
  return record(out, {&x}, "transpose",
                [](const Tensor& grad, const std::vector<bool>&) { return std::vector<Tensor>{transpose(grad)}; });
}

}  // namespace oa
