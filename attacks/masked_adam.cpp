#include "attacks/masked_adam.h"

#include <cmath>

#include "attacks/adversarial.h"
#include "framework/backend/dispatch.h"

namespace oa::attacks::detail {

MaskedAdam::MaskedAdam(const Tensor& w, double lr)
    : m_(Tensor::zeros(w.shape(), w.dtype(), w.device())),
      v_(Tensor::zeros(w.shape(), w.dtype(), w.device())),
      t_(static_cast<std::size_t>(w.size(0)), 0),
      lr_(lr) {}

void MaskedAdam::reset(const std::vector<bool>& which) {
  const Tensor mask = row_mask(which, m_), zeros = Tensor::zeros(m_.shape(), m_.dtype(), m_.device());
  backend::where_rows(mask, zeros, m_, m_);
  backend::where_rows(mask, zeros, v_, v_);
  for (std::size_t i = 0; i < which.size(); ++i)
    if (which[i]) t_[i] = 0;
}

void MaskedAdam::step(Tensor& w, const Tensor& grad, const std::vector<bool>& active) {
  // Per sample: step size lr / (1 - b1^t) and 1 / (1 - b2^t); a step size of 0 keeps the row.
  std::vector<double> step_size(active.size(), 0.0), v_correction(active.size(), 1.0);
  for (std::size_t i = 0; i < active.size(); ++i) {
    if (!active[i]) continue;
    ++t_[i];
    step_size[i] = lr_ / (1 - std::pow(beta1_, static_cast<double>(t_[i])));
    v_correction[i] = 1 / (1 - std::pow(beta2_, static_cast<double>(t_[i])));
  }
  const Shape rows{static_cast<std::int64_t>(active.size())};
  backend::row_adam_step(w, grad, m_, v_, tensor_like(step_size, rows, w), tensor_like(v_correction, rows, w), beta1_,
                         beta2_, eps_);
}

}  // namespace oa::attacks::detail
