#pragma once
// The back-end interface: every kernel the ops call, by name. Each function picks the
// implementation from the device of its tensors; the CPU and CUDA back ends define the
// same names (oa::cpu::..., oa::cuda::...). This header and dispatch.cpp are the only
// places that know more than one back end exists.
//
// Kernels write into outputs the caller allocated with the right shape and dtype; they
// never record autograd history (ops do that).
#include <cstdint>
#include <string_view>

#include "framework/backend/cpu/elementwise.h"
#include "framework/backend/geometry.h"
#include "framework/core/csr.h"
#include "framework/core/tensor.h"
#ifdef OA_WITH_CUDA
#include "framework/backend/cuda/kernels.h"
// OA_CUDA_ONLY(statement): the statement in a build with the CUDA back end; in one without,
// a throw (unreachable in practice: such a build cannot create a CUDA tensor).
#define OA_CUDA_ONLY(statement) statement
#else
#define OA_CUDA_ONLY(statement) throw ::oa::Error("this build has no CUDA back end")
#endif

namespace oa::backend {

// Counts a call of `kernel` and returns the device that runs it: that of the first tensor,
// after checking that every other (non-null, defined) tensor lives there too, since a host
// pointer handed to a GPU kernel (or the reverse) would crash instead of explaining itself.
Device enter_kernel(const char* kernel, std::initializer_list<const Tensor*> tensors);

// Throws a clear error when `t` lives on a device whose kernel for `op` does not exist yet.
void require_cpu(const Tensor& t, const char* op);

// How many times a kernel ran since the last reset (all threads), by its name here.
long kernel_calls(std::string_view kernel);
void reset_kernel_calls();

// ---- basic -------------------------------------------------------------------------
void fill(Tensor& t, double value);
void cast(const Tensor& src, Tensor& dst);             // any dtype to any dtype, same shape
void axpy(double alpha, const Tensor& x, Tensor& y);   // y += alpha * x (same shape)
Tensor add(const Tensor& a, const Tensor& b);          // a + b (same shape), for gradient sums
void transpose2d(const Tensor& x, Tensor& y);          // y[j, i] = x[i, j]

// ---- elementwise (the per-element math is a functor from ops/elementwise_math.h) ----
template <class F>
void map_unary(const Tensor& x, Tensor& y, const F& f) {
  if (enter_kernel("map_unary", {&x, &y}) == Device::CUDA) OA_CUDA_ONLY(return cuda::map_unary(x, y, f));
  cpu::map_unary(x, y, f);
}
// grad_x = grad_y * f'(x, y)
template <class F>
void map_unary_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, Tensor& grad_x,
                        const F& f) {
  if (enter_kernel("map_unary_backward", {&x, &y, &grad_y, &grad_x}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::map_unary_backward(x, y, grad_y, grad_x, f));
  cpu::map_unary_backward(x, y, grad_y, grad_x, f);
}
// out = f(a, b) with NumPy broadcasting; out has the broadcast shape.
template <class F>
void map_binary(const Tensor& a, const Tensor& b, Tensor& out, const F& f) {
  if (enter_kernel("map_binary", {&a, &b, &out}) == Device::CUDA) OA_CUDA_ONLY(return cuda::map_binary(a, b, out, f));
  cpu::map_binary(a, b, out, f);
}
// out = g(a, b, grad) at the broadcast shape, for the backward of a binary op.
template <class G>
void map_binary_grad(const Tensor& a, const Tensor& b, const Tensor& grad, Tensor& out, const G& g) {
  if (enter_kernel("map_binary_grad", {&a, &b, &grad, &out}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::map_binary_grad(a, b, grad, out, g));
  cpu::map_binary_grad(a, b, grad, out, g);
}

// ---- reductions ----------------------------------------------------------------------
// out = x summed over the dims where out has size 1 (out has x's rank: keepdim shape).
void sum_dims(const Tensor& x, Tensor& out);
// out = x broadcast up to out's shape (x has 1 where out is larger): the backward of sum.
void expand_to(const Tensor& x, Tensor& out);
// Max over one dim: values and their int64 indices (x viewed as [outer, n, inner]).
void max_dim(const Tensor& x, int dim, Tensor& values, Tensor& indices);
// grad_x (zeroed here) receives grad_values at the argmax positions.
void max_dim_backward(const Tensor& grad_values, const Tensor& indices, int dim, Tensor& grad_x);

// ---- matrix products (row-major GEMM: the column-major details stay in one wrapper) ---
// c = alpha * op(a) @ op(b) + beta * c, with op = transpose when trans_* is set.
void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha = 1.0,
            double beta = 0.0);
// out[n, :] += bias (out is [N, M]); grad_bias[m] = sum_n grad[n, m].
void add_row_bias(const Tensor& bias, Tensor& out);
void sum_rows(const Tensor& grad, Tensor& grad_bias);

// ---- convolution ---------------------------------------------------------------------
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g);
void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g);
void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g);
void conv2d_backward_bias(const Tensor& grad_y, Tensor& grad_b);  // sum over N, H, W
// The forward and the input gradient with a pruned weight in CSR form ([C_out, C_in*KH*KW],
// groups 1; CPU only): direct sparse convolution, cost proportional to the nonzeros.
void sparse_conv2d_forward(const Tensor& x, const CsrMatrix& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g);
void sparse_conv2d_backward_input(const Tensor& grad_y, const CsrMatrix& w, Tensor& grad_x, const Conv2dGeometry& g);

// ---- batch normalisation (x is [N, C, H, W]; statistics per channel) ----------------------
// Training: normalise with the batch statistics; save_mean and save_invstd are [C] and keep
// mean and 1/sqrt(var + eps) for backward; the running statistics are updated in place.
void batchnorm2d_train_forward(const Tensor& x, const Tensor* gamma, const Tensor* beta, Tensor& running_mean,
                               Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                               Tensor& save_invstd);
// grad_x uses the batch-statistics formula; grad_gamma / grad_beta are written when non-null.
void batchnorm2d_train_backward(const Tensor& grad_y, const Tensor& x, const Tensor* gamma,
                                const Tensor& save_mean, const Tensor& save_invstd, Tensor* grad_x,
                                Tensor* grad_gamma, Tensor* grad_beta);
// Per-channel affine map y = x * scale[c] + shift[c]: eval-mode BN once scale/shift are folded.
void channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y);
// Per-channel sums over N, H, W of grad_y and of grad_y * x (the eval-mode BN weight gradients).
void channel_sums(const Tensor& grad_y, const Tensor* x, Tensor& sum_grad, Tensor* sum_grad_x);

// ---- pooling -----------------------------------------------------------------------------
// indices: int64 [N, C, OH, OW], the flat h*W+w of the max inside its image plane.
void maxpool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g);
void maxpool2d_backward(const Tensor& grad_y, const Tensor& indices, Tensor& grad_x, const Pool2dGeometry& g);
// Padding counts in the divisor (PyTorch's count_include_pad=True).
void avgpool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g);
void avgpool2d_backward(const Tensor& grad_y, Tensor& grad_x, const Pool2dGeometry& g);

// ---- rows of logits (x is [N, C]) --------------------------------------------------------
void log_softmax_forward(const Tensor& x, Tensor& y);
// grad_x = grad_y - softmax * sum(grad_y), from y = log_softmax(x)
void log_softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x);
// out[n] = x[n, index[n]];  backward: grad_x[n, index[n]] = grad_out[n], zero elsewhere.
void gather_rows(const Tensor& x, const Tensor& index, Tensor& out);
void gather_rows_backward(const Tensor& grad_out, const Tensor& index, Tensor& grad_x);
// margin[n] = x[n, y_n] - max_{j != y_n} x[n, j]; runner_up[n] = that j.
void margin_forward(const Tensor& x, const Tensor& labels, Tensor& margin, Tensor& runner_up);
void margin_backward(const Tensor& grad_margin, const Tensor& labels, const Tensor& runner_up, Tensor& grad_x);
void one_hot(const Tensor& labels, Tensor& out);  // out is [N, C], zero-filled here

// ---- optimiser updates (in place, one parameter tensor at a time) --------------------------
// SGD with PyTorch's conventions: g = grad + wd * p; buf = momentum * buf + g;
// p -= lr * (nesterov ? g + momentum * buf : buf)   (plain g when momentum is 0).
void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, double lr, double momentum, bool nesterov,
              double weight_decay);
// Adam (L2 weight decay added to the gradient): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1, double beta2,
               double eps, double weight_decay, std::int64_t step);

// ---- rows of per-sample state (x viewed as [N, D], mask and factors [N]) --------------------
// The attacks keep one row per sample; these update the rows where the tensors live.
// out[i, :] = mask[i] != 0 ? a[i, :] : b[i, :]   (out may be a or b)
void where_rows(const Tensor& mask, const Tensor& a, const Tensor& b, Tensor& out);
// Adam without weight decay on each row with its own bias corrections (rows whose
// step_size[i] is 0 stand still):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  w -= step_size[i] m / (sqrt(v v_correction[i]) + eps)
void row_adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_size,
                   const Tensor& v_correction, double beta1, double beta2, double eps);

}  // namespace oa::backend
