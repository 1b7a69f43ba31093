// CUDA optimiser updates, one fused elementwise kernel per parameter tensor (formulas in
// dispatch.h). Each mirrors its CPU twin in framework/backend/cpu/optim.cpp: the same
// expressions in the same order, and the scalar factors computed once on the host.
#include <cmath>
#include <cstdint>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/kernels.h"
#include "framework/backend/optim_math.h"

namespace oa::cuda {

namespace {

// The update of backend/optim_math.h, one thread per element (buf is null without momentum).
template <class T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, std::int64_t n, T lr, T mom, bool nesterov, T wd) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count())
    backend::sgd_update(p[i], g[i], buf ? buf + i : nullptr, lr, mom, nesterov, wd);
}

template <class T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, std::int64_t n, T b1, T b2, T wd, T eps, T step_size,
                            T v_correction) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count())
    backend::adam_update(p[i], g[i], m[i], v[i], b1, b2, wd, eps, step_size, v_correction);
}

}  // namespace

void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, double lr, double momentum, bool nesterov,
              double weight_decay) {
  dispatch_floating(param.dtype(), "sgd_step", [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    // Without momentum there is no buffer (it may be an undefined tensor): do not touch it.
    T* buf = momentum == 0 ? nullptr : momentum_buffer.data<T>();
    const std::int64_t n = param.numel();
    if (n == 0) return;
    sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(p, g, buf, n, T(lr), T(momentum), nesterov,
                                                             T(weight_decay));
    OA_CUDA_LAUNCH_CHECK();
  });
}

void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1, double beta2,
               double eps, double weight_decay, std::int64_t step) {
  dispatch_floating(param.dtype(), "adam_step", [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* pm = m.data<T>();
    T* pv = v.data<T>();
    // The bias corrections, in double on the host as on the CPU, then rounded to T.
    const T step_size = T(lr / (1 - std::pow(beta1, double(step))));
    const T v_correction = T(1 / (1 - std::pow(beta2, double(step))));
    const std::int64_t n = param.numel();
    if (n == 0) return;
    adam_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(p, g, pm, pv, n, T(beta1), T(beta2), T(weight_decay),
                                                              T(eps), step_size, v_correction);
    OA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace oa::cuda
