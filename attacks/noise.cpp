#include "attacks/noise.h"

#include <algorithm>
#include <cmath>

#include "framework/core/random.h"

namespace oa::attacks {

namespace {

// One random perturbation of norm eps: random signs (Linf) or a Gaussian direction (L2).
void draw_noise(Rng& rng, Norm norm, double eps, std::vector<double>& delta) {
  if (norm == Norm::Linf) {
    for (double& d : delta) d = rng.uniform() < 0.5 ? -eps : eps;
    return;
  }
  double length = 0;
  for (double& d : delta) {
    d = rng.normal();
    length += d * d;
  }
  length = std::sqrt(length);
  for (double& d : delta) d *= eps / length;
}

}  // namespace

AttackOutput random_noise(LabelQueryModel& model, const Tensor& x, const Tensor& labels, const NoiseOptions& o) {
  check_blackbox_inputs(model, x, labels, "random_noise");
  OA_CHECK(o.eps > 0 && o.draws >= 1, "random_noise: invalid eps {} or draws {}", o.eps, o.draws);
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  const auto clean = x.to_vector<double>();
  const auto y = labels.to_vector<std::int64_t>();
  Rng rng(o.seed);
  std::vector<double> adversarial = clean;
  std::vector<bool> success(n, false);
  std::vector<std::int64_t> queries(n, 0);
  for (std::int64_t k = 0; k < o.draws; ++k) {
    std::vector<std::int64_t> running;  // samples still without success and with budget left
    for (std::int64_t i = 0; i < n; ++i)
      if (!success[i] && model.remaining(i) > 0) running.push_back(i);
    if (running.empty()) break;
    std::vector<double> batch(running.size() * dim), delta(dim);
    for (std::size_t b = 0; b < running.size(); ++b) {
      draw_noise(rng, o.norm, o.eps, delta);
      const double* x_i = clean.data() + running[b] * dim;
      for (std::int64_t p = 0; p < dim; ++p) batch[b * dim + p] = std::clamp(x_i[p] + delta[p], 0.0, 1.0);
    }
    const auto predicted = model.labels(candidate_batch(batch, static_cast<std::int64_t>(running.size()), x), running);
    for (std::size_t b = 0; b < running.size(); ++b) {
      const std::int64_t i = running[b];
      queries[i] += 1;
      if (predicted[b] != y[i]) {
        success[i] = true;
        std::copy(batch.begin() + b * dim, batch.begin() + (b + 1) * dim, adversarial.begin() + i * dim);
      }
    }
  }
  return blackbox_output(adversarial, x, success, queries);
}

}  // namespace oa::attacks
