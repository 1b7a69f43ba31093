// batch_norm2d over [N, C, H, W], per channel c:
//   training: y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta with the batch statistics;
//             the running statistics are updated in place (see backend/cpu/batch_norm2d.cpp).
//             backward: dx = gamma * invstd / m * (m*dy - sum(dy) - xhat * sum(dy * xhat)),
//                       dgamma = sum(dy * xhat), dbeta = sum(dy).
//   eval:     y = x * scale + shift with scale = gamma / sqrt(running_var + eps) and
//             shift = beta - running_mean * scale: a fixed per-channel affine map.
//             backward: dx = dy * scale, dgamma = sum(dy * (x - running_mean)) / sqrt(running_var + eps),
//                       dbeta = sum(dy).
#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"

namespace oa {

namespace {

void check_channel_vector(const Tensor& v, std::int64_t channels, const Tensor& x, const char* what) {
  if (!v.defined()) return;
  check_same_dtype(x, v, "batch_norm2d");
  OA_CHECK(v.dim() == 1 && v.size(0) == channels, "batch_norm2d: {} {} does not match the {} channels of input {}",
           what, shape_str(v.shape()), channels, shape_str(x.shape()));
}

Tensor train_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                     Tensor& running_var, double momentum, double eps) {
  const std::int64_t channels = x.size(1);
  OA_CHECK(x.size(0) * x.size(2) * x.size(3) > 1,
           "batch_norm2d: training needs more than one value per channel, got input {}", shape_str(x.shape()));
  Tensor y = empty_like(x);
  Tensor save_mean = Tensor::empty({channels}, x.dtype(), x.device());
  Tensor save_invstd = Tensor::empty({channels}, x.dtype(), x.device());
  backend::batch_norm2d_train_forward(x, gamma.defined() ? &gamma : nullptr, beta.defined() ? &beta : nullptr,
                                      running_mean, running_var, momentum, eps, y, save_mean, save_invstd);
  return record(y, {&x, &gamma, &beta}, "batch_norm2d",
                [x = x.detach(), gamma = gamma.defined() ? gamma.detach() : Tensor(), save_mean,
                 save_invstd](const Tensor& grad, const std::vector<bool>& needs) {
                  std::vector<Tensor> grads(3);
                  for (int i = 0; i < 3; ++i)
                    if (needs[i]) grads[i] = i == 0 ? empty_like(x) : empty_like(save_mean);
                  backend::batch_norm2d_train_backward(grad, x, gamma.defined() ? &gamma : nullptr, save_mean,
                                                       save_invstd, needs[0] ? &grads[0] : nullptr,
                                                       needs[1] ? &grads[1] : nullptr, needs[2] ? &grads[2] : nullptr);
                  return grads;
                });
}

Tensor eval_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                    const Tensor& running_var, double eps) {
  // Fold the statistics and the affine parameters into one scale and shift per channel,
  // with tensor ops where the tensors live (on the GPU: no trip to the host). The backward
  // below is written by hand, so none of this is recorded.
  Tensor invstd, scale, shift, mean = running_mean.detach();
  {
    NoGradGuard no_grad;
    invstd = pow_scalar(add_scalar(running_var.detach(), eps), -0.5);
    scale = gamma.defined() ? mul(gamma.detach(), invstd) : invstd;
    const Tensor mean_scaled = mul(mean, scale);
    shift = beta.defined() ? sub(beta.detach(), mean_scaled) : neg(mean_scaled);
  }
  Tensor y = empty_like(x);
  backend::batch_norm2d_eval_forward(x, scale, shift, y);
  return record(y, {&x, &gamma, &beta}, "batch_norm2d(eval)",
                [x = x.detach(), scale, mean, invstd](const Tensor& grad, const std::vector<bool>& needs) {
                  NoGradGuard no_grad;
                  std::vector<Tensor> grads(3);
                  if (needs[0]) {  // dx = dy * scale
                    grads[0] = empty_like(grad);
                    const Tensor zero_shift = Tensor::zeros(scale.shape(), scale.dtype(), scale.device());
                    backend::batch_norm2d_eval_forward(grad, scale, zero_shift, grads[0]);
                  }
                  if (needs[1] || needs[2]) {
                    Tensor sum_g = empty_like(scale), sum_gx = empty_like(scale);
                    backend::batch_norm2d_eval_backward_weight(grad, needs[1] ? &x : nullptr, sum_g,
                                                               needs[1] ? &sum_gx : nullptr);
                    // dgamma = invstd * (sum(dy * x) - mean * sum(dy))
                    if (needs[1]) grads[1] = mul(invstd, sub(sum_gx, mul(mean, sum_g)));
                    if (needs[2]) grads[2] = sum_g;
                  }
                  return grads;
                });
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum, double eps) {
  check_floating(x, "batch_norm2d");
  check_rank(x, 4, "batch_norm2d", "input");
  const std::int64_t channels = x.size(1);
  check_channel_vector(gamma, channels, x, "weight (gamma)");
  check_channel_vector(beta, channels, x, "bias (beta)");
  check_channel_vector(running_mean, channels, x, "running_mean");
  check_channel_vector(running_var, channels, x, "running_var");
  OA_CHECK(running_mean.defined() && running_var.defined(), "batch_norm2d: running statistics are required");
  return training ? train_forward(x, gamma, beta, running_mean, running_var, momentum, eps)
                  : eval_forward(x, gamma, beta, running_mean, running_var, eps);
}

}  // namespace oa
