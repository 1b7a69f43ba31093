// Batch normalisation over [N, C, H, W] on the GPU, statistics per channel c over the
// m = N*H*W values of that channel.
//   train forward (cuDNN, CUDNN_BATCHNORM_SPATIAL):
//       mu = mean(x), var = mean((x - mu)^2), xhat = (x - mu) / sqrt(var + eps), y = gamma * xhat + beta;
//       save_mean = mu, save_invstd = 1 / sqrt(var + eps);
//       running = (1 - momentum) * running + momentum * batch value, with the unbiased
//       variance var * m / (m - 1) for running_var (PyTorch's convention, and cuDNN's).
//   train backward (our kernels, from save_mean / save_invstd), with g = dL/dy:
//       dbeta = sum(g), dgamma = sum(g * xhat), dx = gamma * invstd / m * (m * g - dbeta - xhat * dgamma).
//   eval forward (batch_norm2d_eval_forward): y = x * scale[c] + shift[c], once folded;
//   eval weight gradients (batch_norm2d_eval_backward_weight): sum(g) and sum(g * x) per channel.
// The per-channel sums run one block per channel, accumulated in double like the CPU back end.
#include <cstdint>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/cudnn_descriptors.h"
#include "framework/backend/cuda/kernels.h"

namespace oa::cuda {

namespace {

constexpr int kReduceThreads = 512;  // threads of a per-channel reduction block (a power of two)

struct Planes {
  std::int64_t batch, channels, plane;
  explicit Planes(const Tensor& x) : batch(x.size(0)), channels(x.size(1)), plane(x.size(2) * x.size(3)) {}
};

template <class T>
__global__ void set_kernel(T* p, std::int64_t n, T value) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count())
    p[i] = value;
}

// Block c sums over the N*H*W values of channel c:
//   sum_g  = sum g
//   sum_gx = sum g * (x - mean[c]) * invstd[c]   (mean/invstd null: sum g * x; x null: 0)
// and writes them, when the pointers are non-null, as T to sum_g_out[c] / sum_gx_out[c] and
// as double to sums[c] / sums[channels + c].
template <class T>
__global__ void channel_reduce_kernel(const T* g, const T* x, const T* mean, const T* invstd, std::int64_t batch,
                                      std::int64_t channels, std::int64_t plane, T* sum_g_out, T* sum_gx_out,
                                      double* sums) {
  __shared__ double shared_g[kReduceThreads], shared_gx[kReduceThreads];
  const std::int64_t c = blockIdx.x;
  const std::int64_t count = batch * plane;
  const double mu = mean ? static_cast<double>(mean[c]) : 0.0;
  const double inv = invstd ? static_cast<double>(invstd[c]) : 1.0;
  double sg = 0, sgx = 0;
  // Consecutive threads read consecutive pixels of one plane (coalesced).
  for (std::int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const std::int64_t n = i / plane, p = i - n * plane;
    const std::int64_t at = (n * channels + c) * plane + p;
    const double gv = g[at];
    sg += gv;
    if (x) sgx += gv * ((static_cast<double>(x[at]) - mu) * inv);
  }
  shared_g[threadIdx.x] = sg;
  shared_gx[threadIdx.x] = sgx;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {  // tree sum in shared memory
    if (threadIdx.x < half) {
      shared_g[threadIdx.x] += shared_g[threadIdx.x + half];
      shared_gx[threadIdx.x] += shared_gx[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (sum_g_out) sum_g_out[c] = static_cast<T>(shared_g[0]);
    if (sum_gx_out) sum_gx_out[c] = static_cast<T>(shared_gx[0]);
    if (sums) {
      sums[c] = shared_g[0];
      sums[channels + c] = shared_gx[0];
    }
  }
}

template <class T>
void launch_channel_reduce(const Tensor& g, const Tensor* x, const Tensor* mean, const Tensor* invstd, T* sum_g_out,
                           T* sum_gx_out, double* sums) {
  const Planes s(g);
  channel_reduce_kernel<<<static_cast<unsigned>(s.channels), kReduceThreads, 0, stream()>>>(
      g.data<T>(), x ? x->data<T>() : nullptr, mean ? mean->data<T>() : nullptr, invstd ? invstd->data<T>() : nullptr,
      s.batch, s.channels, s.plane, sum_g_out, sum_gx_out, sums);
  OA_CUDA_LAUNCH_CHECK();
}

// dx = gamma[c] * invstd[c] / m * (m * g - sum_g[c] - xhat * sum_gxhat[c]), in double.
template <class T>
__global__ void bn_backward_input_kernel(const T* g, const T* x, const T* gamma, const T* mean, const T* invstd,
                                         const double* sums, std::int64_t n, std::int64_t channels,
                                         std::int64_t plane, double m, T* dx) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    const std::int64_t c = (i / plane) % channels;
    const double inv = invstd[c];
    const double xhat = (static_cast<double>(x[i]) - static_cast<double>(mean[c])) * inv;
    const double k = (gamma ? static_cast<double>(gamma[c]) : 1.0) * inv / m;
    dx[i] = static_cast<T>(k * (m * static_cast<double>(g[i]) - sums[c] - xhat * sums[channels + c]));
  }
}

template <class T>
__global__ void channel_affine_kernel(const T* x, const T* scale, const T* shift, std::int64_t n,
                                      std::int64_t channels, std::int64_t plane, T* y) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) {
    const std::int64_t c = (i / plane) % channels;
    y[i] = x[i] * scale[c] + shift[c];
  }
}

}  // namespace

void batch_norm2d_train_forward(const Tensor& x, const Tensor* gamma, const Tensor* beta, Tensor& running_mean,
                                Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                                Tensor& save_invstd) {
  if (x.numel() == 0) return;  // cuDNN takes no empty dimension (the op refuses m <= 1 anyway)
  OA_CHECK(eps >= CUDNN_BN_MIN_EPSILON, "batch_norm2d: eps {} is below cuDNN's minimum {}", eps,
           CUDNN_BN_MIN_EPSILON);
  dispatch_floating(x.dtype(), "batch_norm2d", [&](auto tag) {
    using T = decltype(tag);
    const Planes s(x);
    const TensorDescriptor x_desc(x.dtype(), x.size(0), x.size(1), x.size(2), x.size(3));
    // The [1, C, 1, 1] descriptor of gamma, beta, the running and the saved statistics; cuDNN
    // derives its type from x's (double for double, float otherwise): the dtype of our [C] tensors.
    TensorDescriptor param_desc;
    OA_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(param_desc.get(), x_desc.get(), CUDNN_BATCHNORM_SPATIAL));
    // cuDNN needs a scale and a shift: without gamma / beta, ones / zeros stand in.
    Tensor ones, zeros;
    if (!gamma) {
      ones = Tensor::empty({s.channels}, x.dtype(), Device::CUDA);
      set_kernel<<<blocks_for(s.channels), kThreads, 0, stream()>>>(ones.data<T>(), s.channels, T(1));
      OA_CUDA_LAUNCH_CHECK();
    }
    if (!beta) {
      zeros = Tensor::empty({s.channels}, x.dtype(), Device::CUDA);
      OA_CUDA_CHECK(cudaMemsetAsync(zeros.raw_data(), 0, zeros.nbytes(), stream()));
    }
    const T* scale = gamma ? gamma->data<T>() : ones.data<T>();
    const T* shift = beta ? beta->data<T>() : zeros.data<T>();
    // y = 1 * BN(x) + 0 * y (y is not read). exponentialAverageFactor is our momentum:
    // cuDNN computes running = batch * factor + running * (1 - factor), the CPU back end's
    // update. resultSaveInvVariance receives 1 / sqrt(var + eps), our save_invstd.
    const T one = 1, zero = 0;
    OA_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, x_desc.get(), x.data<T>(), x_desc.get(), y.data<T>(),
        param_desc.get(), scale, shift, momentum, running_mean.data<T>(), running_var.data<T>(), eps,
        save_mean.data<T>(), save_invstd.data<T>()));
  });
}

// Our kernels rather than cudnnBatchNormalizationBackward: that call also takes the forward's
// epsilon, which this interface does not carry, while the formula above needs only the saved
// mean and 1/sqrt(var + eps); and it lets a missing grad_x, gamma or grad_gamma skip work.
void batch_norm2d_train_backward(const Tensor& grad_y, const Tensor& x, const Tensor* gamma, const Tensor& save_mean,
                                 const Tensor& save_invstd, Tensor* grad_x, Tensor* grad_gamma, Tensor* grad_beta) {
  const Planes s(x);
  if (s.channels == 0 || (!grad_x && !grad_gamma && !grad_beta)) return;
  dispatch_floating(x.dtype(), "batch_norm2d backward", [&](auto tag) {
    using T = decltype(tag);
    T* dgamma = grad_gamma ? grad_gamma->data<T>() : nullptr;
    T* dbeta = grad_beta ? grad_beta->data<T>() : nullptr;
    if (!grad_x) {  // the parameter gradients alone: one reduction
      launch_channel_reduce<T>(grad_y, &x, &save_mean, &save_invstd, dbeta, dgamma, nullptr);
      return;
    }
    // dx needs both sums at full precision: keep them in double ([sum_g | sum_g_xhat]).
    Tensor sums = Tensor::empty({2 * s.channels}, DType::Float64, Device::CUDA);
    launch_channel_reduce<T>(grad_y, &x, &save_mean, &save_invstd, dbeta, dgamma, sums.data<double>());
    const std::int64_t n = x.numel();
    if (n == 0) return;
    bn_backward_input_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(
        grad_y.data<T>(), x.data<T>(), gamma ? gamma->data<T>() : nullptr, save_mean.data<T>(),
        save_invstd.data<T>(), sums.data<double>(), n, s.channels, s.plane, static_cast<double>(s.batch * s.plane),
        grad_x->data<T>());
    OA_CUDA_LAUNCH_CHECK();
  });
}

void batch_norm2d_eval_forward(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  dispatch_floating(x.dtype(), "batch_norm2d_eval_forward", [&](auto tag) {
    using T = decltype(tag);
    const Planes s(x);
    channel_affine_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(x.data<T>(), scale.data<T>(), shift.data<T>(), n,
                                                                    s.channels, s.plane, y.data<T>());
    OA_CUDA_LAUNCH_CHECK();
  });
}

void batch_norm2d_eval_backward_weight(const Tensor& grad_y, const Tensor* x, Tensor& sum_grad, Tensor* sum_grad_x) {
  if (grad_y.size(1) == 0) return;  // no channels; with an empty batch the sums are written as 0
  dispatch_floating(grad_y.dtype(), "batch_norm2d_eval_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    // x matters only for sum_grad_x; without x, sum_grad_x (if asked for) is 0, as on the CPU.
    launch_channel_reduce<T>(grad_y, sum_grad_x ? x : nullptr, nullptr, nullptr, sum_grad.data<T>(),
                             sum_grad_x ? sum_grad_x->data<T>() : nullptr, nullptr);
  });
}

}  // namespace oa::cuda
