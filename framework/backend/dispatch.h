#pragma once
// The back-end interface: every kernel the ops call, by name. The CPU and CUDA back ends
// define the same names (oa::cpu::..., oa::cuda::...); oa::backend::<name> runs the one that
// owns the tensors. This header and dispatch.cpp are the only places that know more than one
// back end exists.
//
// Kernels write into outputs the caller allocated with the right shape and dtype; they never
// record autograd history (ops do that). Each kernel says what it does to its outputs:
//   OVERWRITES  every element is written; the old contents are never read;
//   ACCUMULATES out += ...: the old contents are kept and added to;
//   IN PLACE    the state tensors are read and written (optimiser steps, running statistics).
//
// Adding a kernel: one OA_KERNEL line below, one definition in cpu/<op>.cpp and one in
// cuda/<op>.cu. The line declares the kernel in both back ends and generates its forwarder.
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <type_traits>

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

// How many times a kernel ran since the last reset (all threads), by its name here. Tests use
// the counts to prove, e.g., that an attack's backward never runs a weight-gradient kernel.
long kernel_calls(std::string_view kernel);
void reset_kernel_calls();

// The call counter of one kernel. Each forwarder below owns one (a function-local static,
// registered by name when first used); counting a call is one relaxed atomic add.
class KernelCounter {
 public:
  explicit KernelCounter(const char* kernel);

  // Counts a call and returns the device that runs it: that of the first tensor argument,
  // after checking that every other (non-null, defined) tensor argument lives there too, since
  // a host pointer handed to a GPU kernel (or the reverse) would crash instead of explaining
  // itself. Arguments that are not tensors (scalars, geometry, a CSR matrix) are skipped.
  template <class... Args>
  Device enter(const Args&... args) {
    calls_.fetch_add(1, std::memory_order_relaxed);
    return common_device({tensor_or_null(args)...});
  }

 private:
  friend long kernel_calls(std::string_view kernel);
  friend void reset_kernel_calls();

  template <class A>
  static const Tensor* tensor_or_null(const A& arg) {
    if constexpr (std::is_convertible_v<const A&, const Tensor&>) return &arg;
    else if constexpr (std::is_convertible_v<A, const Tensor*>) return arg;
    else return nullptr;
  }
  Device common_device(std::initializer_list<const Tensor*> tensors) const;

  const char* kernel_;
  std::atomic<long> calls_{0};
  KernelCounter* next_ = nullptr;  // all counters form one list, for kernel_calls()
};

// Throws a clear error for a kernel that has no CUDA version, called on CUDA tensors.
[[noreturn]] void throw_no_cuda_version(const char* kernel);

}  // namespace oa::backend

namespace oa {
namespace cpu {
using backend::Conv2dGeometry;
using backend::Pool2dGeometry;
}  // namespace cpu
namespace cuda {
using backend::Conv2dGeometry;
using backend::Pool2dGeometry;
}  // namespace cuda
}  // namespace oa

// The forwarder oa::backend::name: `check` (a statement), then count the call and check the
// devices, then run `on_cuda` for CUDA tensors, else the CPU version.
#define OA_FORWARDER(ret, name, params, args, check, on_cuda) \
  namespace backend {                                         \
  inline ret name params {                                    \
    check;                                                    \
    static KernelCounter counter(#name);                      \
    if (counter.enter args == Device::CUDA) on_cuda;          \
    return cpu::name args;                                    \
  }                                                           \
  }

// Declares the kernel in both back ends: oa::cpu::name and oa::cuda::name.
#define OA_DECLARE_IN_BACK_ENDS(ret, name, params) \
  namespace cpu {                                  \
  ret name params;                                 \
  }                                                \
  namespace cuda {                                 \
  ret name params;                                 \
  }

// OA_KERNEL(return type, name, (parameters), (arguments)): the kernel in both back ends.
#define OA_KERNEL(ret, name, params, args) \
  OA_DECLARE_IN_BACK_ENDS(ret, name, params) \
  OA_FORWARDER(ret, name, params, args, (void)0, OA_CUDA_ONLY(return cuda::name args))

// A kernel with no CUDA version yet: on CUDA tensors it throws, naming the kernel.
#define OA_CPU_ONLY_KERNEL(ret, name, params, args) \
  namespace cpu {                                   \
  ret name params;                                  \
  }                                                 \
  OA_FORWARDER(ret, name, params, args, (void)0, throw_no_cuda_version(#name))

// A kernel whose arguments backend::check_<name> (dispatch.cpp) checks first: for kernels
// that accept any shape that splits into rows, which no op has checked for them.
#define OA_CHECKED_KERNEL(ret, name, params, args) \
  OA_DECLARE_IN_BACK_ENDS(ret, name, params)       \
  namespace backend {                              \
  void check_##name params;                        \
  }                                                \
  OA_FORWARDER(ret, name, params, args, check_##name args, OA_CUDA_ONLY(return cuda::name args))

namespace oa {

// ---- basic (cpu/basic.cpp, cuda/elementwise.cu) -------------------------------------------
// OVERWRITES t with value.
OA_KERNEL(void, fill, (Tensor& t, double value), (t, value))
// OVERWRITES dst with src converted to dst's dtype (any dtype to any dtype, same shape).
OA_KERNEL(void, cast, (const Tensor& src, Tensor& dst), (src, dst))
// ACCUMULATES: y += alpha * x (same shape).
OA_KERNEL(void, axpy, (double alpha, const Tensor& x, Tensor& y), (alpha, x, y))
// Returns a new tensor a + b (same shape): for gradient sums.
OA_KERNEL(Tensor, add, (const Tensor& a, const Tensor& b), (a, b))
// OVERWRITES y: y[j, i] = x[i, j].
OA_KERNEL(void, transpose2d, (const Tensor& x, Tensor& y), (x, y))

// ---- reductions (cpu/reduce.cpp, cuda/reduce.cu) ------------------------------------------
// OVERWRITES out with x summed over the dims where out has size 1 (out has x's rank).
OA_KERNEL(void, sum_dims, (const Tensor& x, Tensor& out), (x, out))
// OVERWRITES out with x broadcast up to out's shape (x has 1 where out is larger): the
// backward of sum.
OA_KERNEL(void, expand_to, (const Tensor& x, Tensor& out), (x, out))
// OVERWRITES values and their int64 indices: the max over one dim (x viewed as [outer, n, inner]).
OA_KERNEL(void, max_dim, (const Tensor& x, int dim, Tensor& values, Tensor& indices), (x, dim, values, indices))
// OVERWRITES grad_x: grad_values at the argmax positions, zero elsewhere.
OA_KERNEL(void, max_dim_backward, (const Tensor& grad_values, const Tensor& indices, int dim, Tensor& grad_x),
          (grad_values, indices, dim, grad_x))

// ---- matrix products (cpu/gemm.cpp, cuda/gemm.cu) -----------------------------------------
// OVERWRITES c = op(a) @ op(b), row-major, with op = transpose when trans_* is set.
OA_KERNEL(void, matmul, (const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c),
          (a, trans_a, b, trans_b, c))
// ACCUMULATES: out[n, :] += bias (out is [N, M]).
OA_KERNEL(void, add_row_bias, (const Tensor& bias, Tensor& out), (bias, out))
// OVERWRITES grad_bias[m] = sum_n grad[n, m].
OA_KERNEL(void, sum_rows, (const Tensor& grad, Tensor& grad_bias), (grad, grad_bias))

// ---- convolution (cpu/conv2d.cpp, cuda/conv2d.cu; the reference: cpu/conv2d_reference.cpp) -
// OVERWRITES y = conv(x, w) + bias (bias may be null).
OA_KERNEL(void, conv2d_forward,
          (const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g),
          (x, w, bias, y, g))
// OVERWRITES y = max(0, conv(x, w) + bias), the ReLU applied as the output is written where the
// back end can (oneDNN's eltwise post-op, cuDNN's bias-activation call).
OA_KERNEL(void, conv2d_relu_forward,
          (const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g),
          (x, w, bias, y, g))
// OVERWRITES grad_x.
OA_KERNEL(void, conv2d_backward_input,
          (const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g), (grad_y, w, grad_x, g))
// OVERWRITES grad_w with the sum over the batch.
OA_KERNEL(void, conv2d_backward_weight,
          (const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g), (grad_y, x, grad_w, g))
// OVERWRITES grad_b with grad_y summed over N, H, W.
OA_KERNEL(void, conv2d_backward_bias, (const Tensor& grad_y, Tensor& grad_b), (grad_y, grad_b))

// ---- sparse convolution (cpu/sparse_conv2d.cpp) --------------------------------------------
// The forward and the input gradient with a pruned weight in CSR form ([C_out, C_in*KH*KW],
// groups 1): direct sparse convolution, cost proportional to the nonzeros. Both OVERWRITE.
OA_CPU_ONLY_KERNEL(void, sparse_conv2d_forward,
                   (const Tensor& x, const CsrMatrix& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g),
                   (x, w, bias, y, g))
OA_CPU_ONLY_KERNEL(void, sparse_conv2d_backward_input,
                   (const Tensor& grad_y, const CsrMatrix& w, Tensor& grad_x, const Conv2dGeometry& g),
                   (grad_y, w, grad_x, g))

// ---- batch normalisation (cpu/batch_norm2d.cpp, cuda/batch_norm2d.cu) ------------------------
// x is [N, C, H, W]; statistics per channel.
// Training: OVERWRITES y, normalised with the batch statistics, and save_mean, save_invstd
// ([C]: the mean and 1/sqrt(var + eps) that backward needs); updates running_mean and
// running_var IN PLACE (running = (1 - momentum) running + momentum batch statistic).
OA_KERNEL(void, batch_norm2d_train_forward,
          (const Tensor& x, const Tensor* gamma, const Tensor* beta, Tensor& running_mean, Tensor& running_var,
           double momentum, double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd),
          (x, gamma, beta, running_mean, running_var, momentum, eps, y, save_mean, save_invstd))
// OVERWRITES grad_x (batch-statistics formula), grad_gamma and grad_beta, each when non-null.
OA_KERNEL(void, batch_norm2d_train_backward,
          (const Tensor& grad_y, const Tensor& x, const Tensor* gamma, const Tensor& save_mean,
           const Tensor& save_invstd, Tensor* grad_x, Tensor* grad_gamma, Tensor* grad_beta),
          (grad_y, x, gamma, save_mean, save_invstd, grad_x, grad_gamma, grad_beta))
// Eval mode, once the running statistics and gamma, beta are folded into scale and shift [C]:
// OVERWRITES y = x * scale[c] + shift[c] (with a zero shift, also the input gradient).
OA_KERNEL(void, batch_norm2d_eval_forward, (const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y),
          (x, scale, shift, y))
// OVERWRITES sum_grad[c] = sum over N, H, W of grad_y, and (when x is non-null) sum_grad_x[c]
// = the sum of grad_y * x: what the eval-mode gradients of beta and gamma are made of.
OA_KERNEL(void, batch_norm2d_eval_backward_weight,
          (const Tensor& grad_y, const Tensor* x, Tensor& sum_grad, Tensor* sum_grad_x),
          (grad_y, x, sum_grad, sum_grad_x))

// ---- pooling (cpu/pool2d.cpp, cuda/pool2d.cu) ------------------------------------------------
// OVERWRITES y and indices (int64 [N, C, OH, OW], the flat h*W+w of the max in its plane).
OA_KERNEL(void, maxpool2d_forward, (const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g),
          (x, y, indices, g))
// OVERWRITES grad_x: each grad_y lands on its argmax (summed where windows share it), zero elsewhere.
OA_KERNEL(void, maxpool2d_backward,
          (const Tensor& grad_y, const Tensor& indices, Tensor& grad_x, const Pool2dGeometry& g),
          (grad_y, indices, grad_x, g))
// OVERWRITES y with the window means; padding counts in the divisor (count_include_pad=True).
OA_KERNEL(void, avgpool2d_forward, (const Tensor& x, Tensor& y, const Pool2dGeometry& g), (x, y, g))
// OVERWRITES grad_x: each grad_y spread evenly over its window.
OA_KERNEL(void, avgpool2d_backward, (const Tensor& grad_y, Tensor& grad_x, const Pool2dGeometry& g),
          (grad_y, grad_x, g))

// ---- log-softmax over the rows of x [N, C] (cpu/log_softmax.cpp, cuda/log_softmax.cu) -------
// OVERWRITES y = log_softmax(x).
OA_KERNEL(void, log_softmax_forward, (const Tensor& x, Tensor& y), (x, y))
// OVERWRITES grad_x = grad_y - softmax * sum(grad_y), from y = log_softmax(x).
OA_KERNEL(void, log_softmax_backward, (const Tensor& y, const Tensor& grad_y, Tensor& grad_x), (y, grad_y, grad_x))

// ---- gather from the rows of x [N, C] (cpu/gather.cpp, cuda/gather.cu) ------------------------
// OVERWRITES out[n] = x[n, index[n]].
OA_KERNEL(void, gather_rows, (const Tensor& x, const Tensor& index, Tensor& out), (x, index, out))
// OVERWRITES grad_x: grad_x[n, index[n]] = grad_out[n], zero elsewhere.
OA_KERNEL(void, gather_rows_backward, (const Tensor& grad_out, const Tensor& index, Tensor& grad_x),
          (grad_out, index, grad_x))
// OVERWRITES out [N, C]: 1 at (n, labels[n]), zero elsewhere.
OA_KERNEL(void, one_hot, (const Tensor& labels, Tensor& out), (labels, out))

// ---- the margin of the rows of x [N, C] (cpu/margin.cpp, cuda/margin.cu) ----------------------
// OVERWRITES margin[n] = x[n, y_n] - max_{j != y_n} x[n, j] and runner_up[n] = that j.
OA_KERNEL(void, margin_forward, (const Tensor& x, const Tensor& labels, Tensor& margin, Tensor& runner_up),
          (x, labels, margin, runner_up))
// OVERWRITES grad_x: grad_margin[n] at (n, y_n), minus it at (n, runner_up[n]), zero elsewhere.
OA_KERNEL(void, margin_backward,
          (const Tensor& grad_margin, const Tensor& labels, const Tensor& runner_up, Tensor& grad_x),
          (grad_margin, labels, runner_up, grad_x))

// ---- optimiser updates, one parameter tensor at a time (cpu/optim.cpp, cuda/optim.cu) ---------
// IN PLACE on param and momentum_buffer. SGD with PyTorch's conventions: g = grad + wd * p;
// buf = momentum * buf + g; p -= lr * (nesterov ? g + momentum * buf : buf) (plain g when
// momentum is 0).
OA_KERNEL(void, sgd_step,
          (Tensor& param, const Tensor& grad, Tensor& momentum_buffer, double lr, double momentum, bool nesterov,
           double weight_decay),
          (param, grad, momentum_buffer, lr, momentum, nesterov, weight_decay))
// IN PLACE on param, m and v. Adam (L2 weight decay added to the gradient):
// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
OA_KERNEL(void, adam_step,
          (Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1, double beta2, double eps,
           double weight_decay, std::int64_t step),
          (param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step))

// ---- row-wise kernels (cpu/rows.cpp, cuda/rows.cu) --------------------------------------------
// A tensor viewed as N rows ([N, D], D = numel / N) with one value per row in a tensor of N
// elements (any shape).
// OVERWRITES out: out[i, :] = mask[i] != 0 ? a[i, :] : b[i, :] (out may be a or b).
OA_CHECKED_KERNEL(void, where_rows, (const Tensor& mask, const Tensor& a, const Tensor& b, Tensor& out),
                  (mask, a, b, out))
// IN PLACE on w, m and v: Adam without weight decay, each row with its own step size and
// second-moment bias correction (rows whose step_size[i] is 0 stand still):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  w -= step_size[i] m / (sqrt(v v_correction[i]) + eps)
OA_CHECKED_KERNEL(void, row_adam_step,
                  (Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_size,
                   const Tensor& v_correction, double beta1, double beta2, double eps),
                  (w, grad, m, v, step_size, v_correction, beta1, beta2, eps))

}  // namespace oa

#undef OA_KERNEL
#undef OA_CPU_ONLY_KERNEL
#undef OA_CHECKED_KERNEL
#undef OA_DECLARE_IN_BACK_ENDS
#undef OA_FORWARDER

namespace oa::backend {

// ---- elementwise, generic over a per-element functor of backend/elementwise_math.h ----------
// (cpu/elementwise.h; cuda/elementwise.cu instantiates them for every functor.)
// Each instantiation counts under the kernel's name.
// OVERWRITES y = f(x).
template <class F>
void map_unary(const Tensor& x, Tensor& y, const F& f) {
  static KernelCounter counter("map_unary");
  if (counter.enter(x, y) == Device::CUDA) OA_CUDA_ONLY(return cuda::map_unary(x, y, f));
  cpu::map_unary(x, y, f);
}
// OVERWRITES grad_x = grad_y * f'(x, y).
template <class F>
void map_unary_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, Tensor& grad_x, const F& f) {
  static KernelCounter counter("map_unary_backward");
  if (counter.enter(x, y, grad_y, grad_x) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::map_unary_backward(x, y, grad_y, grad_x, f));
  cpu::map_unary_backward(x, y, grad_y, grad_x, f);
}
// OVERWRITES out = f(a, b) with NumPy broadcasting; out has the broadcast shape.
template <class F>
void map_binary(const Tensor& a, const Tensor& b, Tensor& out, const F& f) {
  static KernelCounter counter("map_binary");
  if (counter.enter(a, b, out) == Device::CUDA) OA_CUDA_ONLY(return cuda::map_binary(a, b, out, f));
  cpu::map_binary(a, b, out, f);
}
// OVERWRITES out = g(a, b, grad) at the broadcast shape, for the backward of a binary op.
template <class G>
void map_binary_grad(const Tensor& a, const Tensor& b, const Tensor& grad, Tensor& out, const G& g) {
  static KernelCounter counter("map_binary_grad");
  if (counter.enter(a, b, grad, out) == Device::CUDA) OA_CUDA_ONLY(return cuda::map_binary_grad(a, b, grad, out, g));
  cpu::map_binary_grad(a, b, grad, out, g);
}

}  // namespace oa::backend
