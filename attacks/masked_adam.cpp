#include "attacks/masked_adam.h"

#include <algorithm>
#include <cmath>

namespace oa::attacks::detail {

MaskedAdam::MaskedAdam(std::int64_t n, std::int64_t dim_, double lr_)
    : m(n * dim_), v(n * dim_), t(n), dim(dim_), lr(lr_) {}

void MaskedAdam::reset_sample(std::int64_t i) {
  std::fill_n(m.begin() + i * dim, dim, 0.0);
  std::fill_n(v.begin() + i * dim, dim, 0.0);
  t[i] = 0;
}

void MaskedAdam::step(std::vector<double>& w, const std::vector<double>& grad, const std::vector<bool>& active) {
  for (std::size_t i = 0; i < active.size(); ++i) {
    if (!active[i]) continue;
    ++t[i];
    const double c1 = 1 - std::pow(beta1, static_cast<double>(t[i]));
    const double c2 = 1 - std::pow(beta2, static_cast<double>(t[i]));
    for (std::int64_t k = static_cast<std::int64_t>(i) * dim; k < static_cast<std::int64_t>(i + 1) * dim; ++k) {
      m[k] = beta1 * m[k] + (1 - beta1) * grad[k];
      v[k] = beta2 * v[k] + (1 - beta2) * grad[k] * grad[k];
      w[k] -= lr * (m[k] / c1) / (std::sqrt(v[k] / c2) + eps);
    }
  }
}

}  // namespace oa::attacks::detail
