// sum and mean over dims.
//   forward:  out = sum of x over the reduced dims
//   backward: every element of x receives the gradient of the slot it was summed into
//             (the gradient broadcast back to x's shape); mean divides by the count.
#include <algorithm>

#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

namespace {
// x's shape with 1 along the reduced dims (the keepdim shape).
Shape kept_shape(const Tensor& x, const std::vector<std::int64_t>& dims, const char* op) {
  Shape kept = x.shape();
  if (dims.empty()) {
    std::fill(kept.begin(), kept.end(), 1);
    return kept;
  }
  for (auto d : dims) kept[normalize_dim(d, x.dim(), op)] = 1;
  return kept;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<std::int64_t> dims, bool keepdim) {
  check_floating(x, "sum");
  const Shape kept = kept_shape(x, dims, "sum");
  Tensor out = Tensor::empty(kept, x.dtype(), x.device());
  backend::sum_dims(x, out);
  out = record(out, {&x}, "sum", [input_shape = x.shape()](const Tensor& grad, const std::vector<bool>&) {
    Tensor grad_x = Tensor::empty(input_shape, grad.dtype(), grad.device());
    backend::expand_to(grad, grad_x);
    return std::vector<Tensor>{grad_x};
  });
  if (keepdim) return out;
  // Drop the reduced dims (a view; its own backward restores the keepdim shape).
  Shape squeezed;
  const bool all = dims.empty();
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const bool reduced = all || std::any_of(dims.begin(), dims.end(), [&](auto d) {
                           return normalize_dim(d, x.dim(), "sum") == static_cast<int>(i);
                         });
    if (!reduced) squeezed.push_back(kept[i]);
  }
  return out.reshape(squeezed);
}

Tensor mean(const Tensor& x, std::vector<std::int64_t> dims, bool keepdim) {
  const std::int64_t count = x.numel() / std::max<std::int64_t>(1, shape_numel(kept_shape(x, dims, "mean")));
  OA_CHECK(count > 0, "mean: no elements to average in {}", describe(x));
  return mul_scalar(sum(x, std::move(dims), keepdim), 1.0 / static_cast<double>(count));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  OA_CHECK(broadcast_shapes(shape, x.shape(), "sum_to") == x.shape(), "sum_to: {} does not broadcast to {}",
           shape_str(shape), shape_str(x.shape()));
  // Leading dims that `shape` lacks are summed away, then dims where shape has 1.
  const std::size_t lead = x.dim() - shape.size();
  std::vector<std::int64_t> dims;
  for (std::size_t i = 0; i < x.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) dims.push_back(static_cast<std::int64_t>(i));
  return sum(x, dims, true).reshape(shape);
}

}  // namespace oa
