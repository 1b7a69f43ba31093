#include "framework/optim/row_adam.h"

#include <cmath>

#include "framework/backend/dispatch.h"

namespace oa::optim {

namespace {
// One value per row, [N], typed and placed like `like`.
Tensor per_row(const std::vector<double>& values, const Tensor& like) {
  return Tensor::from_vector(values, {static_cast<std::int64_t>(values.size())}).to(like.dtype()).to(like.device());
}
}  // namespace

RowAdam::RowAdam(const Tensor& w, const RowAdamOptions& options) : options_(options) {
  check_floating(w, "RowAdam");
  OA_CHECK(w.dim() >= 1, "RowAdam: needs a tensor with rows, got {}", describe(w));
  // lr > 0: a step size of 0 is how the kernel keeps a row still.
  OA_CHECK(options.lr > 0 && options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
           "RowAdam: lr {} must be > 0 and the betas ({}, {}) in [0, 1)", options.lr, options.beta1, options.beta2);
  m_ = Tensor::zeros(w.shape(), w.dtype(), w.device());
  v_ = Tensor::zeros(w.shape(), w.dtype(), w.device());
  steps_.assign(static_cast<std::size_t>(w.size(0)), 0);
}

void RowAdam::reset(const std::vector<bool>& rows) {
  OA_CHECK(rows.size() == steps_.size(), "RowAdam::reset: {} flags for {} rows", rows.size(), steps_.size());
  const Tensor mask = per_row(std::vector<double>(rows.begin(), rows.end()), m_);
  const Tensor zeros = Tensor::zeros(m_.shape(), m_.dtype(), m_.device());
  backend::where_rows(mask, zeros, m_, m_);
  backend::where_rows(mask, zeros, v_, v_);
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i]) steps_[i] = 0;
}

void RowAdam::step(Tensor& w, const Tensor& grad, const std::vector<bool>& active) {
  OA_CHECK(active.size() == steps_.size(), "RowAdam::step: {} flags for {} rows", active.size(), steps_.size());
  check_same_shape(w, m_, "RowAdam::step");
  check_same_shape(grad, m_, "RowAdam::step");
  // Per row: the step size lr / (1 - b1^t) and 1 / (1 - b2^t); a step size of 0 keeps the row.
  std::vector<double> step_size(active.size(), 0.0), v_correction(active.size(), 1.0);
  for (std::size_t i = 0; i < active.size(); ++i) {
    if (!active[i]) continue;
    const double t = static_cast<double>(++steps_[i]);
    step_size[i] = options_.lr / (1 - std::pow(options_.beta1, t));
    v_correction[i] = 1 / (1 - std::pow(options_.beta2, t));
  }
  backend::row_adam_step(w, grad, m_, v_, per_row(step_size, w), per_row(v_correction, w), options_.beta1,
                         options_.beta2, options_.eps);
}

}  // namespace oa::optim
