// Optimiser updates, one fused loop per parameter tensor (formulas in dispatch.h).
#include <cmath>

#include "framework/backend/cpu/kernels.h"
#include "framework/backend/optim_math.h"

namespace oa::cpu {

void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, double lr, double momentum, bool nesterov,
              double weight_decay) {
  dispatch_floating(param.dtype(), "sgd_step", [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* buf = momentum == 0 ? nullptr : momentum_buffer.data<T>();
    const T lr_t = T(lr), mom = T(momentum), wd = T(weight_decay);
    const std::int64_t n = param.numel();
#pragma omp parallel for if (n > kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; ++i)
      backend::sgd_update(p[i], g[i], buf ? buf + i : nullptr, lr_t, mom, nesterov, wd);
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
    const T b1 = T(beta1), b2 = T(beta2), wd = T(weight_decay), eps_t = T(eps);
    const T step_size = T(lr / (1 - std::pow(beta1, double(step))));
    const T v_correction = T(1 / (1 - std::pow(beta2, double(step))));
    const std::int64_t n = param.numel();
#pragma omp parallel for if (n > kParallelGrain) schedule(static)
    for (std::int64_t i = 0; i < n; ++i)
      backend::adam_update(p[i], g[i], pm[i], pv[i], b1, b2, wd, eps_t, step_size, v_correction);
  });
}

}  // namespace oa::cpu
