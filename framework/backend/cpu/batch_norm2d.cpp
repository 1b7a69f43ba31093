// Batch normalisation over [N, C, H, W], statistics per channel c over m = N*H*W values.
//   train:  mu = mean(x), var = mean((x - mu)^2), xhat = (x - mu) / sqrt(var + eps),
//           y = gamma * xhat + beta; running stats move by `momentum` towards mu and the
//           unbiased variance var * m / (m - 1) (PyTorch's convention).
//   backward (train): with g = dL/dy,
//           dgamma = sum(g * xhat), dbeta = sum(g),
//           dx = gamma / sqrt(var + eps) / m * (m * g - dbeta - xhat * dgamma).
// Eval mode is a per-channel affine map (batch_norm2d_eval_forward) once scale/shift are folded.
#include <cmath>

#include "framework/backend/cpu/kernels.h"

namespace oa::cpu {

namespace {
struct Planes {
  std::int64_t batch, channels, plane;
  explicit Planes(const Tensor& x) : batch(x.size(0)), channels(x.size(1)), plane(x.size(2) * x.size(3)) {}
  std::int64_t count() const { return batch * plane; }
  std::int64_t at(std::int64_t n, std::int64_t c) const { return (n * channels + c) * plane; }
};
}  // namespace

void batch_norm2d_train_forward(const Tensor& x, const Tensor* gamma, const Tensor* beta, Tensor& running_mean,
                                Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                                Tensor& save_invstd) {
  dispatch_floating(x.dtype(), "batch_norm2d", [&](auto tag) {
    using T = decltype(tag);
    const Planes s(x);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T* pgamma = gamma ? gamma->data<T>() : nullptr;
    const T* pbeta = beta ? beta->data<T>() : nullptr;
    T* prm = running_mean.data<T>();
    T* prv = running_var.data<T>();
    T* pmean = save_mean.data<T>();
    T* pinv = save_invstd.data<T>();
    const double m = static_cast<double>(s.count());
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
    for (std::int64_t c = 0; c < s.channels; ++c) {
      // Two passes in double: the mean, then the squared deviations (no cancellation).
      double sum = 0;
      for (std::int64_t n = 0; n < s.batch; ++n)
        for (std::int64_t p = 0; p < s.plane; ++p) sum += px[s.at(n, c) + p];
      const double mean = sum / m;
      double sq = 0;
      for (std::int64_t n = 0; n < s.batch; ++n)
        for (std::int64_t p = 0; p < s.plane; ++p) {
          const double dev = px[s.at(n, c) + p] - mean;
          sq += dev * dev;
        }
      const double var = sq / m;
      const double invstd = 1.0 / std::sqrt(var + eps);
      pmean[c] = static_cast<T>(mean);
      pinv[c] = static_cast<T>(invstd);
      prm[c] = static_cast<T>((1 - momentum) * prm[c] + momentum * mean);
      prv[c] = static_cast<T>((1 - momentum) * prv[c] + momentum * (m > 1 ? var * m / (m - 1) : var));
      const T scale = static_cast<T>(invstd * (pgamma ? pgamma[c] : T(1)));
      const T shift = (pbeta ? pbeta[c] : T(0)) - static_cast<T>(mean) * scale;
      for (std::int64_t n = 0; n < s.batch; ++n)
        for (std::int64_t p = 0; p < s.plane; ++p) py[s.at(n, c) + p] = px[s.at(n, c) + p] * scale + shift;
    }
  });
}

void batch_norm2d_train_backward(const Tensor& grad_y, const Tensor& x, const Tensor* gamma, const Tensor& save_mean,
                                 const Tensor& save_invstd, Tensor* grad_x, Tensor* grad_gamma, Tensor* grad_beta) {
  dispatch_floating(x.dtype(), "batch_norm2d backward", [&](auto tag) {
    using T = decltype(tag);
    const Planes s(x);
    const T* pg = grad_y.data<T>();
    const T* px = x.data<T>();
    const T* pgamma = gamma ? gamma->data<T>() : nullptr;
    const T* pmean = save_mean.data<T>();
    const T* pinv = save_invstd.data<T>();
    const double m = static_cast<double>(s.count());
#pragma omp parallel for schedule(static) if (x.numel() > kParallelGrain)
    for (std::int64_t c = 0; c < s.channels; ++c) {
      double sum_g = 0, sum_g_xhat = 0;
      for (std::int64_t n = 0; n < s.batch; ++n)
        for (std::int64_t p = 0; p < s.plane; ++p) {
          const std::int64_t i = s.at(n, c) + p;
          sum_g += pg[i];
          sum_g_xhat += pg[i] * (px[i] - pmean[c]) * pinv[c];
        }
      if (grad_gamma) grad_gamma->data<T>()[c] = static_cast<T>(sum_g_xhat);
      if (grad_beta) grad_beta->data<T>()[c] = static_cast<T>(sum_g);
      if (!grad_x) continue;
      T* pgx = grad_x->data<T>();
      const double k = (pgamma ? pgamma[c] : 1.0) * pinv[c] / m;
      for (std::int64_t n = 0; n < s.batch; ++n)
        for (std::int64_t p = 0; p < s.plane; ++p) {
          const std::int64_t i = s.at(n, c) + p;
          const double xhat = (px[i] - pmean[c]) * pinv[c];
          pgx[i] = static_cast<T>(k * (m * pg[i] - sum_g - xhat * sum_g_xhat));
        }
    }
  });
}

void batch_norm2d_eval_forward(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y) {
  dispatch_floating(x.dtype(), "batch_norm2d_eval_forward", [&](auto tag) {
    using T = decltype(tag);
    const Planes s(x);
    const T* px = x.data<T>();
    const T* psc = scale.data<T>();
    const T* psh = shift.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for collapse(2) schedule(static) if (x.numel() > kParallelGrain)
    for (std::int64_t n = 0; n < s.batch; ++n)
      for (std::int64_t c = 0; c < s.channels; ++c) {
        const std::int64_t base = s.at(n, c);
        for (std::int64_t p = 0; p < s.plane; ++p) py[base + p] = px[base + p] * psc[c] + psh[c];
      }
  });
}

void batch_norm2d_eval_backward_weight(const Tensor& grad_y, const Tensor* x, Tensor& sum_grad, Tensor* sum_grad_x) {
  dispatch_floating(grad_y.dtype(), "batch_norm2d_eval_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    const Planes s(grad_y);
    const T* pg = grad_y.data<T>();
    const T* px = x ? x->data<T>() : nullptr;
#pragma omp parallel for schedule(static) if (grad_y.numel() > kParallelGrain)
    for (std::int64_t c = 0; c < s.channels; ++c) {
      double sg = 0, sgx = 0;
      for (std::int64_t n = 0; n < s.batch; ++n)
        for (std::int64_t p = 0; p < s.plane; ++p) {
          const std::int64_t i = s.at(n, c) + p;
          sg += pg[i];
          if (px) sgx += pg[i] * px[i];
        }
      sum_grad.data<T>()[c] = static_cast<T>(sg);
      if (sum_grad_x) sum_grad_x->data<T>()[c] = static_cast<T>(sgx);
    }
  });
}

}  // namespace oa::cpu
