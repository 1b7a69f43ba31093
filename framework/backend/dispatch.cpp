// The dispatch layer: forwards each kernel to the back end that owns its tensors, and
// counts calls per kernel (tests use the counts to prove that, e.g., an attack's backward
// never runs a weight-gradient kernel). The CUDA kernels arrive with the CUDA back end;
// until then a CUDA tensor reaching a kernel gets a clear error from require_cpu.
#include "framework/backend/dispatch.h"

#include <map>
#include <mutex>
#include <string>

#include "framework/backend/cpu/kernels.h"

namespace oa::backend {

namespace {
std::mutex g_counts_mutex;
std::map<std::string, long, std::less<>> g_counts;

// Counts the call and checks the device of the tensor that decides where it runs.
void enter(const char* kernel, const Tensor& t) {
  {
    std::lock_guard lock(g_counts_mutex);
    ++g_counts[kernel];
  }
  require_cpu(t, kernel);
}
}  // namespace

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
  OA_CHECK(t.device() == Device::CPU, "{}: this kernel has no CUDA version yet (tensor {})", op, describe(t));
}

void fill(Tensor& t, double value) {
  enter("fill", t);
  cpu::fill(t, value);
}

void cast(const Tensor& src, Tensor& dst) {
  enter("cast", src);
  cpu::cast(src, dst);
}

void axpy(double alpha, const Tensor& x, Tensor& y) {
  enter("axpy", x);
  cpu::axpy(alpha, x, y);
}

Tensor add(const Tensor& a, const Tensor& b) {
  enter("add", a);
  return cpu::add(a, b);
}

void transpose2d(const Tensor& x, Tensor& y) {
  enter("transpose2d", x);
  cpu::transpose2d(x, y);
}

void sum_dims(const Tensor& x, Tensor& out) {
  enter("sum_dims", x);
  cpu::sum_dims(x, out);
}

void expand_to(const Tensor& x, Tensor& out) {
  enter("expand_to", x);
  cpu::expand_to(x, out);
}

void max_dim(const Tensor& x, int dim, Tensor& values, Tensor& indices) {
  enter("max_dim", x);
  cpu::max_dim(x, dim, values, indices);
}

void max_dim_backward(const Tensor& grad_values, const Tensor& indices, int dim, Tensor& grad_x) {
  enter("max_dim_backward", grad_values);
  cpu::max_dim_backward(grad_values, indices, dim, grad_x);
}

void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha, double beta) {
  enter("matmul", a);
  cpu::matmul(a, trans_a, b, trans_b, c, alpha, beta);
}

void add_row_bias(const Tensor& bias, Tensor& out) {
  enter("add_row_bias", bias);
  cpu::add_row_bias(bias, out);
}

void sum_rows(const Tensor& grad, Tensor& grad_bias) {
  enter("sum_rows", grad);
  cpu::sum_rows(grad, grad_bias);
}

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  enter("conv2d_forward", x);
  cpu::conv2d_forward(x, w, bias, y, g);
}

void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g) {
  enter("conv2d_backward_input", grad_y);
  cpu::conv2d_backward_input(grad_y, w, grad_x, g);
}

void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g) {
  enter("conv2d_backward_weight", grad_y);
  cpu::conv2d_backward_weight(grad_y, x, grad_w, g);
}

void conv2d_backward_bias(const Tensor& grad_y, Tensor& grad_b) {
  enter("conv2d_backward_bias", grad_y);
  cpu::conv2d_backward_bias(grad_y, grad_b);
}

void sparse_conv2d_forward(const Tensor& x, const CsrMatrix& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  enter("sparse_conv2d_forward", x);
  cpu::sparse_conv2d_forward(x, w, bias, y, g);
}

void sparse_conv2d_backward_input(const Tensor& grad_y, const CsrMatrix& w, Tensor& grad_x, const Conv2dGeometry& g) {
  enter("sparse_conv2d_backward_input", grad_y);
  cpu::sparse_conv2d_backward_input(grad_y, w, grad_x, g);
}

void batchnorm2d_train_forward(const Tensor& x, const Tensor* gamma, const Tensor* beta, Tensor& running_mean, Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  enter("batchnorm2d_train_forward", x);
  cpu::batchnorm2d_train_forward(x, gamma, beta, running_mean, running_var, momentum, eps, y, save_mean, save_invstd);
}

void batchnorm2d_train_backward(const Tensor& grad_y, const Tensor& x, const Tensor* gamma, const Tensor& save_mean, const Tensor& save_invstd, Tensor* grad_x, Tensor* grad_gamma, Tensor* grad_beta) {
  enter("batchnorm2d_train_backward", grad_y);
  cpu::batchnorm2d_train_backward(grad_y, x, gamma, save_mean, save_invstd, grad_x, grad_gamma, grad_beta);
}

void channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y) {
  enter("channel_affine", x);
  cpu::channel_affine(x, scale, shift, y);
}

void channel_sums(const Tensor& grad_y, const Tensor* x, Tensor& sum_grad, Tensor* sum_grad_x) {
  enter("channel_sums", grad_y);
  cpu::channel_sums(grad_y, x, sum_grad, sum_grad_x);
}

void maxpool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g) {
  enter("maxpool2d_forward", x);
  cpu::maxpool2d_forward(x, y, indices, g);
}

void maxpool2d_backward(const Tensor& grad_y, const Tensor& indices, Tensor& grad_x, const Pool2dGeometry& g) {
  enter("maxpool2d_backward", grad_y);
  cpu::maxpool2d_backward(grad_y, indices, grad_x, g);
}

void avgpool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g) {
  enter("avgpool2d_forward", x);
  cpu::avgpool2d_forward(x, y, g);
}

void avgpool2d_backward(const Tensor& grad_y, Tensor& grad_x, const Pool2dGeometry& g) {
  enter("avgpool2d_backward", grad_y);
  cpu::avgpool2d_backward(grad_y, grad_x, g);
}

void log_softmax_forward(const Tensor& x, Tensor& y) {
  enter("log_softmax_forward", x);
  cpu::log_softmax_forward(x, y);
}

void log_softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x) {
  enter("log_softmax_backward", y);
  cpu::log_softmax_backward(y, grad_y, grad_x);
}

void gather_rows(const Tensor& x, const Tensor& index, Tensor& out) {
  enter("gather_rows", x);
  cpu::gather_rows(x, index, out);
}

void gather_rows_backward(const Tensor& grad_out, const Tensor& index, Tensor& grad_x) {
  enter("gather_rows_backward", grad_out);
  cpu::gather_rows_backward(grad_out, index, grad_x);
}

void margin_forward(const Tensor& x, const Tensor& labels, Tensor& margin, Tensor& runner_up) {
  enter("margin_forward", x);
  cpu::margin_forward(x, labels, margin, runner_up);
}

void margin_backward(const Tensor& grad_margin, const Tensor& labels, const Tensor& runner_up, Tensor& grad_x) {
  enter("margin_backward", grad_margin);
  cpu::margin_backward(grad_margin, labels, runner_up, grad_x);
}

void one_hot(const Tensor& labels, Tensor& out) {
  enter("one_hot", labels);
  cpu::one_hot(labels, out);
}

void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, double lr, double momentum, bool nesterov,
              double weight_decay) {
  enter("sgd_step", param);
  cpu::sgd_step(param, grad, momentum_buffer, lr, momentum, nesterov, weight_decay);
}

void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1, double beta2,
               double eps, double weight_decay, std::int64_t step) {
  enter("adam_step", param);
  cpu::adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
}

}  // namespace oa::backend
