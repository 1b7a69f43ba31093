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

AttackOutput ddn(nn::Module& model, const Tensor& x, const Tensor& labels, const DdnOptions& o) {
  check_attack_inputs(x, labels, "ddn");
  OA_CHECK(o.steps >= 1 && o.gamma > 0 && o.gamma < 1 && o.init_norm > 0 && o.alpha_min > 0 &&
               o.alpha_max >= o.alpha_min,
           "ddn: invalid options (steps {}, gamma {}, init_norm {}, alpha from {} to {})", o.steps, o.gamma,
           o.init_norm, o.alpha_max, o.alpha_min);
  FrozenModel frozen(model);
  const std::int64_t n = x.size(0);
  // Per-pixel state (delta, the best example) lives where x lives; per-sample numbers (eps,
  // norms, margins) come to the host.
  Tensor delta = Tensor::zeros(x.shape(), x.dtype(), x.device()), best_adv = x.clone();
  std::vector<double> eps(n, o.init_norm), farthest;
  {
    // No point of the box is farther from x than the corner max(x, 1 - x): eps need not exceed it.
    NoGradGuard no_grad;
    farthest = row_l2_norms(maximum(x, add_scalar(neg(x), 1.0)));
  }
  std::vector<double> best_l2(n, std::numeric_limits<double>::infinity());
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  const double direction = o.targeted ? -1.0 : 1.0;  // ascend the loss, or descend towards the target

  for (std::int64_t step = 0; step <= o.steps; ++step) {
    Tensor d = delta.detach().set_requires_grad();
    const Tensor logits = model(add(x, d));
    // This iterate, before its step: is it adversarial, and the smallest so far?
    const auto m = margin(logits.detach(), labels).to_vector<double>();
    const auto l2 = row_l2_norms(delta);
    std::vector<bool> adversarial(n), improved(n, false);
    for (std::int64_t i = 0; i < n; ++i) {
      out.samples[i].forwards += 1;
      adversarial[i] = o.targeted ? m[i] > 0 : m[i] < 0;
      if (adversarial[i] && l2[i] < best_l2[i]) {
        best_l2[i] = l2[i];
        improved[i] = true;
      }
    }
    if (std::find(improved.begin(), improved.end(), true) != improved.end()) {
      NoGradGuard no_grad;
      best_adv = where(row_mask(improved, x), add(x, delta), best_adv);
    }
    if (step == o.steps) break;
    cross_entropy(logits, labels).backward();
    const Tensor g = d.grad();
    NoGradGuard no_grad;
    const double alpha =
        o.alpha_min + (o.alpha_max - o.alpha_min) * (1 + std::cos(std::numbers::pi * double(step) / double(o.steps))) / 2;
    // The direction: a step of alpha along the normalised gradient. A zero gradient (a
    // saturated softmax) leaves delta as it is.
    const auto g_norm = row_l2_norms(g);
    std::vector<double> step_scale(n);
    for (std::int64_t i = 0; i < n; ++i) {
      out.samples[i].backwards += 1;
      step_scale[i] = g_norm[i] > 0 ? direction * alpha / g_norm[i] : 0.0;
    }
    delta = add(delta, mul(g, per_sample(step_scale, x)));
    // The norm (eps shrinks while adversarial, grows otherwise), then the box.
    const auto delta_norm = row_l2_norms(delta);
    std::vector<double> to_eps(n);
    for (std::int64_t i = 0; i < n; ++i) {
      eps[i] = std::min(farthest[i], eps[i] * (adversarial[i] ? 1 - o.gamma : 1 + o.gamma));
      to_eps[i] = delta_norm[i] > 0 ? eps[i] / delta_norm[i] : 0.0;
    }
    delta = sub(clamp(add(x, mul(delta, per_sample(to_eps, x))), 0.0, 1.0), x);
  }
  out.adversarial = best_adv;
  verify(model, x, labels, o.targeted, out);
  return out;
}

}  // namespace oa::attacks
