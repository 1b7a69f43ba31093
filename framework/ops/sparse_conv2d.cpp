// sparse_conv2d: conv2d (conv2d.cpp) with a pruned, constant weight held in CSR form
// (rows: output channels). The kernels skip the pruned weights: cost ~ nonzeros instead of
// C_out * C_in * KH * KW per output pixel (backend/cpu/sparse_conv2d.cpp explains how).
//   backward: dx = the transposed convolution with the same sparse weight;
//             db = sum of dy over n, oh, ow. The weight gets no gradient: the sparse path
//             serves inference and attacks, whose weights are frozen.
#include <memory>

#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/conv2d_geometry.h"
#include "framework/ops/ops.h"

namespace oa {

SparseConvWeight SparseConvWeight::from_dense(const Tensor& w) {
  check_rank(w, 4, "SparseConvWeight", "weight");
  return {.shape = w.shape(), .matrix = CsrMatrix::from_dense(w.reshape({w.size(0), -1}))};
}

Tensor sparse_conv2d(const Tensor& x, const std::shared_ptr<const SparseConvWeight>& w, const Tensor& b,
                     std::int64_t stride, std::int64_t padding) {
  OA_CHECK(w != nullptr, "sparse_conv2d: no weight");
  const backend::Conv2dGeometry g = conv2d_geometry(x, w->shape, stride, padding, 1, "sparse_conv2d");
  OA_CHECK(w->matrix.values.dtype() == x.dtype(), "sparse_conv2d: weight {} and input {} differ in dtype",
           dtype_name(w->matrix.values.dtype()), dtype_name(x.dtype()));
  if (b.defined()) {
    check_same_dtype(x, b, "sparse_conv2d");
    OA_CHECK(b.dim() == 1 && b.size(0) == g.out_channels, "sparse_conv2d: bias {} does not match {} output channels",
             shape_str(b.shape()), g.out_channels);
  }
  Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_h, g.out_w}, x.dtype(), x.device());
  backend::sparse_conv2d_forward(x, w->matrix, b.defined() ? &b : nullptr, y, g);

  return record(y, {&x, &b}, "sparse_conv2d",
                [w, g, x_shape = x.shape()](const Tensor& grad, const std::vector<bool>& needs) {
                  std::vector<Tensor> grads(2);
                  if (needs[0]) {
                    grads[0] = Tensor::empty(x_shape, grad.dtype(), grad.device());
                    backend::sparse_conv2d_backward_input(grad, w->matrix, grads[0], g);
                  }
                  if (needs[1]) {
                    grads[1] = Tensor::empty({g.out_channels}, grad.dtype(), grad.device());
                    backend::conv2d_backward_bias(grad, grads[1]);
                  }
                  return grads;
                });
}

}  // namespace oa
