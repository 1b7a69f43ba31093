// The dispatch layer: forwards each kernel to the back end that owns its tensors (after
// checking they all live on one device), and counts calls per kernel (tests use the counts
// to prove that, e.g., an attack's backward never runs a weight-gradient kernel).
#include "framework/backend/dispatch.h"

#include <map>
#include <mutex>
#include <string>

#include "framework/backend/cpu/kernels.h"

namespace oa::backend {

namespace {
std::mutex g_counts_mutex;
std::map<std::string, long, std::less<>> g_counts;

}  // namespace

Device enter_kernel(const char* kernel, std::initializer_list<const Tensor*> tensors) {
  {
    std::lock_guard lock(g_counts_mutex);
    ++g_counts[kernel];
  }
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t || !t->defined()) continue;
    if (!first) first = t;
    OA_CHECK(t->device() == first->device(), "{}: tensors on different devices: {} and {}", kernel, describe(*first),
             describe(*t));
  }
  return first ? first->device() : Device::CPU;
}

long kernel_calls(std::string_view kernel) {
  std::lock_guard lock(g_counts_mutex);
  auto it = g_counts.find(kernel);
  return it == g_counts.end() ? 0 : it->second;
}

void reset_kernel_calls() {
  std::lock_guard lock(g_counts_mutex);
  g_counts.clear();
}

void require_cpu(const Tensor& t, const char* op) {
  OA_CHECK(t.device() == Device::CPU, "{}: this kernel has no CUDA version (tensor {}); run it on the CPU", op,
           describe(t));
}

void fill(Tensor& t, double value) {
  if (enter_kernel("fill", {&t}) == Device::CUDA) OA_CUDA_ONLY(return cuda::fill(t, value));
  cpu::fill(t, value);
}

void cast(const Tensor& src, Tensor& dst) {
  if (enter_kernel("cast", {&src, &dst}) == Device::CUDA) OA_CUDA_ONLY(return cuda::cast(src, dst));
  cpu::cast(src, dst);
}

void axpy(double alpha, const Tensor& x, Tensor& y) {
  if (enter_kernel("axpy", {&x, &y}) == Device::CUDA) OA_CUDA_ONLY(return cuda::axpy(alpha, x, y));
  cpu::axpy(alpha, x, y);
}

Tensor add(const Tensor& a, const Tensor& b) {
  if (enter_kernel("add", {&a, &b}) == Device::CUDA) OA_CUDA_ONLY(return cuda::add(a, b));
  return cpu::add(a, b);
}

void transpose2d(const Tensor& x, Tensor& y) {
  if (enter_kernel("transpose2d", {&x, &y}) == Device::CUDA) OA_CUDA_ONLY(return cuda::transpose2d(x, y));
  cpu::transpose2d(x, y);
}

void sum_dims(const Tensor& x, Tensor& out) {
  if (enter_kernel("sum_dims", {&x, &out}) == Device::CUDA) OA_CUDA_ONLY(return cuda::sum_dims(x, out));
  cpu::sum_dims(x, out);
}

void expand_to(const Tensor& x, Tensor& out) {
  if (enter_kernel("expand_to", {&x, &out}) == Device::CUDA) OA_CUDA_ONLY(return cuda::expand_to(x, out));
  cpu::expand_to(x, out);
}

void max_dim(const Tensor& x, int dim, Tensor& values, Tensor& indices) {
  if (enter_kernel("max_dim", {&x, &values, &indices}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::max_dim(x, dim, values, indices));
  cpu::max_dim(x, dim, values, indices);
}

void max_dim_backward(const Tensor& grad_values, const Tensor& indices, int dim, Tensor& grad_x) {
  if (enter_kernel("max_dim_backward", {&grad_values, &indices, &grad_x}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::max_dim_backward(grad_values, indices, dim, grad_x));
  cpu::max_dim_backward(grad_values, indices, dim, grad_x);
}

void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha, double beta) {
  if (enter_kernel("matmul", {&a, &b, &c}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::matmul(a, trans_a, b, trans_b, c, alpha, beta));
  cpu::matmul(a, trans_a, b, trans_b, c, alpha, beta);
}

void add_row_bias(const Tensor& bias, Tensor& out) {
  if (enter_kernel("add_row_bias", {&bias, &out}) == Device::CUDA) OA_CUDA_ONLY(return cuda::add_row_bias(bias, out));
  cpu::add_row_bias(bias, out);
}

void sum_rows(const Tensor& grad, Tensor& grad_bias) {
  if (enter_kernel("sum_rows", {&grad, &grad_bias}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::sum_rows(grad, grad_bias));
  cpu::sum_rows(grad, grad_bias);
}

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  if (enter_kernel("conv2d_forward", {&x, &w, bias, &y}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::conv2d_forward(x, w, bias, y, g));
  cpu::conv2d_forward(x, w, bias, y, g);
}

void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g) {
  if (enter_kernel("conv2d_backward_input", {&grad_y, &w, &grad_x}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::conv2d_backward_input(grad_y, w, grad_x, g));
  cpu::conv2d_backward_input(grad_y, w, grad_x, g);
}

void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g) {
  if (enter_kernel("conv2d_backward_weight", {&grad_y, &x, &grad_w}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::conv2d_backward_weight(grad_y, x, grad_w, g));
  cpu::conv2d_backward_weight(grad_y, x, grad_w, g);
}

void conv2d_backward_bias(const Tensor& grad_y, Tensor& grad_b) {
  if (enter_kernel("conv2d_backward_bias", {&grad_y, &grad_b}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::conv2d_backward_bias(grad_y, grad_b));
  cpu::conv2d_backward_bias(grad_y, grad_b);
}

void sparse_conv2d_forward(const Tensor& x, const CsrMatrix& w, const Tensor* bias, Tensor& y,
                           const Conv2dGeometry& g) {
  enter_kernel("sparse_conv2d_forward", {&x, bias, &y});
  require_cpu(x, "sparse_conv2d_forward");  // the sparse path is CPU only
  cpu::sparse_conv2d_forward(x, w, bias, y, g);
}

void sparse_conv2d_backward_input(const Tensor& grad_y, const CsrMatrix& w, Tensor& grad_x, const Conv2dGeometry& g) {
  enter_kernel("sparse_conv2d_backward_input", {&grad_y, &grad_x});
  require_cpu(grad_y, "sparse_conv2d_backward_input");  // the sparse path is CPU only
  cpu::sparse_conv2d_backward_input(grad_y, w, grad_x, g);
}

void batchnorm2d_train_forward(const Tensor& x, const Tensor* gamma, const Tensor* beta, Tensor& running_mean,
                               Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                               Tensor& save_invstd) {
  if (enter_kernel("batchnorm2d_train_forward",
                   {&x, gamma, beta, &running_mean, &running_var, &y, &save_mean, &save_invstd}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::batchnorm2d_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps, y,
                                                        save_mean, save_invstd));
  cpu::batchnorm2d_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps, y, save_mean, save_invstd);
}

void batchnorm2d_train_backward(const Tensor& grad_y, const Tensor& x, const Tensor* gamma, const Tensor& save_mean,
                                const Tensor& save_invstd, Tensor* grad_x, Tensor* grad_gamma, Tensor* grad_beta) {
  if (enter_kernel("batchnorm2d_train_backward",
                   {&grad_y, &x, gamma, &save_mean, &save_invstd, grad_x, grad_gamma, grad_beta}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::batchnorm2d_train_backward(grad_y, x, gamma, save_mean, save_invstd, grad_x, grad_gamma,
                                                         grad_beta));
  cpu::batchnorm2d_train_backward(grad_y, x, gamma, save_mean, save_invstd, grad_x, grad_gamma, grad_beta);
}

void channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y) {
  if (enter_kernel("channel_affine", {&x, &scale, &shift, &y}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::channel_affine(x, scale, shift, y));
  cpu::channel_affine(x, scale, shift, y);
}

void channel_sums(const Tensor& grad_y, const Tensor* x, Tensor& sum_grad, Tensor* sum_grad_x) {
  if (enter_kernel("channel_sums", {&grad_y, x, &sum_grad, sum_grad_x}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::channel_sums(grad_y, x, sum_grad, sum_grad_x));
  cpu::channel_sums(grad_y, x, sum_grad, sum_grad_x);
}

void maxpool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g) {
  if (enter_kernel("maxpool2d_forward", {&x, &y, &indices}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::maxpool2d_forward(x, y, indices, g));
  cpu::maxpool2d_forward(x, y, indices, g);
}

void maxpool2d_backward(const Tensor& grad_y, const Tensor& indices, Tensor& grad_x, const Pool2dGeometry& g) {
  if (enter_kernel("maxpool2d_backward", {&grad_y, &indices, &grad_x}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::maxpool2d_backward(grad_y, indices, grad_x, g));
  cpu::maxpool2d_backward(grad_y, indices, grad_x, g);
}

void avgpool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g) {
  if (enter_kernel("avgpool2d_forward", {&x, &y}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::avgpool2d_forward(x, y, g));
  cpu::avgpool2d_forward(x, y, g);
}

void avgpool2d_backward(const Tensor& grad_y, Tensor& grad_x, const Pool2dGeometry& g) {
  if (enter_kernel("avgpool2d_backward", {&grad_y, &grad_x}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::avgpool2d_backward(grad_y, grad_x, g));
  cpu::avgpool2d_backward(grad_y, grad_x, g);
}

void log_softmax_forward(const Tensor& x, Tensor& y) {
  if (enter_kernel("log_softmax_forward", {&x, &y}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::log_softmax_forward(x, y));
  cpu::log_softmax_forward(x, y);
}

void log_softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  if (enter_kernel("log_softmax_backward", {&y, &grad_y, &grad_x}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::log_softmax_backward(y, grad_y, grad_x));
  cpu::log_softmax_backward(y, grad_y, grad_x);
}

void gather_rows(const Tensor& x, const Tensor& index, Tensor& out) {
  if (enter_kernel("gather_rows", {&x, &index, &out}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::gather_rows(x, index, out));
  cpu::gather_rows(x, index, out);
}

void gather_rows_backward(const Tensor& grad_out, const Tensor& index, Tensor& grad_x) {
  if (enter_kernel("gather_rows_backward", {&grad_out, &index, &grad_x}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::gather_rows_backward(grad_out, index, grad_x));
  cpu::gather_rows_backward(grad_out, index, grad_x);
}

void margin_forward(const Tensor& x, const Tensor& labels, Tensor& margin, Tensor& runner_up) {
  if (enter_kernel("margin_forward", {&x, &labels, &margin, &runner_up}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::margin_forward(x, labels, margin, runner_up));
  cpu::margin_forward(x, labels, margin, runner_up);
}

void margin_backward(const Tensor& grad_margin, const Tensor& labels, const Tensor& runner_up, Tensor& grad_x) {
  if (enter_kernel("margin_backward", {&grad_margin, &labels, &runner_up, &grad_x}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::margin_backward(grad_margin, labels, runner_up, grad_x));
  cpu::margin_backward(grad_margin, labels, runner_up, grad_x);
}

void one_hot(const Tensor& labels, Tensor& out) {
  if (enter_kernel("one_hot", {&labels, &out}) == Device::CUDA) OA_CUDA_ONLY(return cuda::one_hot(labels, out));
  cpu::one_hot(labels, out);
}

void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, double lr, double momentum, bool nesterov,
              double weight_decay) {
  if (enter_kernel("sgd_step", {&param, &grad, &momentum_buffer}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::sgd_step(param, grad, momentum_buffer, lr, momentum, nesterov, weight_decay));
  cpu::sgd_step(param, grad, momentum_buffer, lr, momentum, nesterov, weight_decay);
}

void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1, double beta2,
               double eps, double weight_decay, std::int64_t step) {
  if (enter_kernel("adam_step", {&param, &grad, &m, &v}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step));
  cpu::adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
}

void where_rows(const Tensor& mask, const Tensor& a, const Tensor& b, Tensor& out) {
  OA_CHECK(a.shape() == b.shape() && a.shape() == out.shape() && mask.numel() > 0 && a.numel() % mask.numel() == 0,
           "where_rows: {} and {} into {} do not split into the {} rows of the mask", describe(a), describe(b),
           describe(out), mask.numel());
  if (enter_kernel("where_rows", {&mask, &a, &b, &out}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::where_rows(mask, a, b, out));
  cpu::where_rows(mask, a, b, out);
}

void row_adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_size,
                   const Tensor& v_correction, double beta1, double beta2, double eps) {
  OA_CHECK(w.shape() == grad.shape() && w.shape() == m.shape() && w.shape() == v.shape() &&
               step_size.numel() == v_correction.numel() && step_size.numel() > 0 &&
               w.numel() % step_size.numel() == 0,
           "row_adam_step: w {}, grad {}, m {}, v {} and the per-row factors {} do not match", describe(w),
           describe(grad), describe(m), describe(v), describe(step_size));
  if (enter_kernel("row_adam_step", {&w, &grad, &m, &v, &step_size, &v_correction}) == Device::CUDA)
    OA_CUDA_ONLY(return cuda::row_adam_step(w, grad, m, v, step_size, v_correction, beta1, beta2, eps));
  cpu::row_adam_step(w, grad, m, v, step_size, v_correction, beta1, beta2, eps);
}

}  // namespace oa::backend
