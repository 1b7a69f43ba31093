#include "attacks/ddn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "attacks/frozen_model.h"
#include "framework/autograd/node.h"
#include "framework/ops/ops.h"

namespace oa::attacks {

namespace {

double l2_norm(const std::vector<double>& v, std::int64_t i, std::int64_t dim) {
  double sum = 0;
  for (std::int64_t k = i * dim; k < (i + 1) * dim; ++k) sum += v[k] * v[k];
  return std::sqrt(sum);
}

}  // namespace

AttackOutput ddn(nn::Module& model, const Tensor& x, const Tensor& labels, const DdnOptions& o) {
  check_attack_inputs(x, labels, "ddn");
  OA_CHECK(o.steps >= 1 && o.gamma > 0 && o.gamma < 1 && o.init_norm > 0 && o.alpha_min > 0 &&
               o.alpha_max >= o.alpha_min,
           "ddn: invalid options (steps {}, gamma {}, init_norm {}, alpha from {} to {})", o.steps, o.gamma,
           o.init_norm, o.alpha_max, o.alpha_min);
  FrozenModel frozen(model);
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  const auto xs = x.to_vector<double>();
  std::vector<double> delta(xs.size(), 0.0), eps(n, o.init_norm), farthest(n);
  // No point of the box is farther from x than the corner max(x, 1 - x): eps need not exceed it.
  for (std::int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (std::int64_t k = i * dim; k < (i + 1) * dim; ++k) sum += std::pow(std::max(xs[k], 1 - xs[k]), 2);
    farthest[i] = std::sqrt(sum);
  }
  std::vector<double> best_l2(n, std::numeric_limits<double>::infinity());
  std::vector<double> best_adv = xs;
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  const double direction = o.targeted ? -1.0 : 1.0;  // ascend the loss, or descend towards the target

  for (std::int64_t step = 0; step <= o.steps; ++step) {
    Tensor d = tensor_like(delta, x.shape(), x).set_requires_grad();
    const Tensor logits = model(add(x, d));
    // This iterate, before its step: is it adversarial, and the smallest so far?
    const auto m = margin(logits.detach(), labels).to_vector<double>();
    std::vector<bool> adversarial(n);
    for (std::int64_t i = 0; i < n; ++i) {
      out.samples[i].forwards += 1;
      adversarial[i] = o.targeted ? m[i] > 0 : m[i] < 0;
      const double l2 = l2_norm(delta, i, dim);
      if (adversarial[i] && l2 < best_l2[i]) {
        best_l2[i] = l2;
        for (std::int64_t k = i * dim; k < (i + 1) * dim; ++k) best_adv[k] = xs[k] + delta[k];
      }
    }
    if (step == o.steps) break;
    cross_entropy(logits, labels).backward();
    const auto g = d.grad().to_vector<double>();
    const double alpha =
        o.alpha_min + (o.alpha_max - o.alpha_min) * (1 + std::cos(std::numbers::pi * double(step) / double(o.steps))) / 2;
    for (std::int64_t i = 0; i < n; ++i) {
      out.samples[i].backwards += 1;
      const std::int64_t begin = i * dim, end = (i + 1) * dim;
      // The direction. A zero gradient (a saturated softmax) leaves it as it is.
      const double g_norm = l2_norm(g, i, dim);
      if (g_norm > 0)
        for (std::int64_t k = begin; k < end; ++k) delta[k] += direction * alpha * g[k] / g_norm;
      // The norm, then the box.
      eps[i] = std::min(farthest[i], eps[i] * (adversarial[i] ? 1 - o.gamma : 1 + o.gamma));
      const double delta_norm = l2_norm(delta, i, dim);
      const double scale = delta_norm > 0 ? eps[i] / delta_norm : 0.0;
      for (std::int64_t k = begin; k < end; ++k) delta[k] = std::clamp(xs[k] + scale * delta[k], 0.0, 1.0) - xs[k];
    }
  }
  out.adversarial = tensor_like(best_adv, x.shape(), x);
  verify(model, x, labels, o.targeted, out);
  return out;
}

}  // namespace oa::attacks
