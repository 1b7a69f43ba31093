#pragma once
// Every differentiable op of the framework. Each is defined in its own file under
// framework/ops/ with its shape checks, its forward and, right below, its backward rule.
#include <cstdint>
#include <memory>
#include <vector>

#include "framework/core/csr.h"
#include "framework/core/tensor.h"

namespace oa {

// ---- elementwise, unary (unary.cpp) ---------------------------------------------------
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sign(const Tensor& x);  // -1, 0, 1; gradient 0
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);
Tensor pow_scalar(const Tensor& x, double p);

// ---- elementwise, binary with NumPy broadcasting (binary.cpp) ---------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, double s) { return add_scalar(x, s); }
inline Tensor operator-(const Tensor& x, double s) { return add_scalar(x, -s); }
inline Tensor operator*(const Tensor& x, double s) { return mul_scalar(x, s); }
inline Tensor operator*(double s, const Tensor& x) { return mul_scalar(x, s); }
inline Tensor operator/(const Tensor& x, double s) { return mul_scalar(x, 1.0 / s); }

// ---- a choice per row (where.cpp) -------------------------------------------------------
// out[i, ...] = mask[i] != 0 ? a[i, ...] : b[i, ...] for a mask [N] and a, b [N, ...] of one
// shape (and the mask's dtype); the gradient flows to a where the mask is set, to b elsewhere.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);

// ---- reductions (sum.cpp, max.cpp) ----------------------------------------------------
// Over the listed dims (all dims when empty); keepdim keeps them with size 1.
Tensor sum(const Tensor& x, std::vector<std::int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<std::int64_t> dims = {}, bool keepdim = false);
// The largest value along one dim; the gradient flows to the (first) maximum.
Tensor max(const Tensor& x, std::int64_t dim, bool keepdim = false);
// Sums `x` down to `shape` over broadcast dims (the backward of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- shape (transpose.cpp; reshape/flatten are Tensor methods) --------------------------
Tensor transpose(const Tensor& x);  // 2-D: [M, N] -> [N, M]

// ---- linear algebra (matmul.cpp, linear.cpp) -------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b);  // [M, K] @ [K, N]
// y = x @ w^T + b, x [N, in], w [out, in], b [out] or undefined
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

// ---- convolution and normalisation (conv2d.cpp, batch_norm2d.cpp) -----------------------
// x [N, C_in, H, W], w [C_out, C_in/groups, KH, KW], b [C_out] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), std::int64_t stride = 1,
              std::int64_t padding = 0, std::int64_t groups = 1);
// relu(conv2d(x, w, b, ...)) in one kernel (conv2d.cpp): what nn::fold_batch_norm makes of a
// conv -> BN -> ReLU chain in a frozen model.
Tensor conv2d_relu(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), std::int64_t stride = 1,
                   std::int64_t padding = 0, std::int64_t groups = 1);
// A pruned conv weight for sparse_conv2d: its shape [C_out, C_in, KH, KW] and the weight as
// a CSR matrix [C_out, C_in*KH*KW].
struct SparseConvWeight {
  Shape shape;
  CsrMatrix matrix;
  static SparseConvWeight from_dense(const Tensor& w);
};
// conv2d with groups 1 and a constant sparse weight (sparse_conv2d.cpp); CPU only. Backward
// gives x and b their gradients; the weight has none.
Tensor sparse_conv2d(const Tensor& x, const std::shared_ptr<const SparseConvWeight>& w, const Tensor& b = Tensor(),
                     std::int64_t stride = 1, std::int64_t padding = 0);
// x [N, C, H, W]; gamma/beta [C] (either may be undefined). training: batch statistics and
// an in-place update of running_mean/running_var; otherwise the running statistics.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// (x - mean[c]) / std[c] per channel of x [N, C, H, W] (normalize.cpp); mean and std are
// constants with C entries each, std positive. The gradient to x is dL/dy / std[c].
Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std);

// ---- pooling (pool2d.cpp) ---------------------------------------------------------------
Tensor max_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride, std::int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, std::int64_t kernel, std::int64_t stride, std::int64_t padding = 0);
Tensor global_avg_pool2d(const Tensor& x);  // [N, C, H, W] -> [N, C]

// ---- classification (log_softmax.cpp, cross_entropy.cpp, gather.cpp, margin.cpp) --------
Tensor log_softmax(const Tensor& logits);  // over dim 1 of [N, C]
// Mean over the batch of -log p(label); with label smoothing eps the target is
// (1 - eps) * one_hot + eps / C (PyTorch's definition). labels: int64 [N].
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing = 0.0);
Tensor gather(const Tensor& x, const Tensor& index);              // out[n] = x[n, index[n]]
Tensor one_hot(const Tensor& labels, std::int64_t classes, DType dtype = DType::Float32);  // no grad
// The Carlini-Wagner difference of logits: margin[n] = z[n, y_n] - max_{j != y_n} z[n, j].
// Positive while the sample is classified as y_n.
Tensor margin(const Tensor& logits, const Tensor& labels);

}  // namespace oa
