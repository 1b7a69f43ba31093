#include "attacks/fmn.h"

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

// The cosine schedule from `from` (step 0) to `to` (the last step).
double annealed(double from, double to, std::int64_t step, std::int64_t steps) {
  return to + (from - to) * (1 + std::cos(std::numbers::pi * double(step) / double(steps))) / 2;
}

}  // namespace

AttackOutput fmn_linf(nn::Module& model, const Tensor& x, const Tensor& labels, const FmnOptions& o) {
  check_attack_inputs(x, labels, "fmn_linf");
  OA_CHECK(o.steps >= 1 && o.alpha_init > 0 && o.gamma_init > 0 && o.gamma_init < 1 && o.gamma_final > 0 &&
               o.gamma_final <= o.gamma_init,
           "fmn_linf: invalid options (steps {}, alpha_init {}, gamma from {} to {})", o.steps, o.alpha_init,
           o.gamma_init, o.gamma_final);
  FrozenModel frozen(model);
  const std::int64_t n = x.size(0);
  const double inf = std::numeric_limits<double>::infinity();
  // Per-pixel state (delta, the best example) lives where x lives; per-sample numbers (eps,
  // norms, margins) come to the host.
  Tensor delta = Tensor::zeros(x.shape(), x.dtype(), x.device()), best_adv = x.clone();
  std::vector<double> farthest;  // no point of the box is farther from x than max(x, 1 - x)
  {
    NoGradGuard no_grad;
    farthest = row_linf_norms(maximum(x, add_scalar(neg(x), 1.0)));
  }
  std::vector<double> eps(n, inf), best_linf(n, inf);
  std::vector<bool> found(n, false);
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  const double sign = o.targeted ? -1.0 : 1.0;  // m = sign * margin is negative once adversarial

  for (std::int64_t step = 0; step < o.steps; ++step) {
    const double alpha = annealed(o.alpha_init, o.alpha_init / 100, step, o.steps);
    const double gamma = annealed(o.gamma_init, o.gamma_final, step, o.steps);
    const auto linf = row_linf_norms(delta);
    Tensor d = delta.detach().set_requires_grad();
    const Tensor m = mul_scalar(margin(model(add(x, d)), labels), sign);
    sum(m).backward();
    const Tensor g = d.grad();
    NoGradGuard no_grad;
    const auto margins = m.to_vector<double>();
    const auto g_l1 = sum(abs(g), {1, 2, 3}).to_vector<double>();
    const auto g_l2 = row_l2_norms(g);
    std::vector<bool> improved(n, false);
    std::vector<double> step_scale(n);
    for (std::int64_t i = 0; i < n; ++i) {
      out.samples[i].forwards += 1;
      out.samples[i].backwards += 1;
      const bool adversarial = margins[i] < 0;
      if (adversarial && linf[i] < best_linf[i]) {
        best_linf[i] = linf[i];
        improved[i] = true;
      }
      found[i] = found[i] || adversarial;
      if (adversarial) eps[i] = std::min(eps[i] * (1 - gamma), best_linf[i]);
      else if (found[i]) eps[i] *= 1 + gamma;
      else eps[i] = linf[i] + (1 + gamma) * std::abs(margins[i]) / std::max(g_l1[i], 1e-12);
      eps[i] = std::min(eps[i], farthest[i]);
      step_scale[i] = -alpha / std::max(g_l2[i], 1e-12);  // descend the margin
    }
    if (std::find(improved.begin(), improved.end(), true) != improved.end())
      best_adv = where(row_mask(improved, x), add(x, delta), best_adv);
    const Tensor radius = per_sample(eps, x);
    const Tensor stepped = add(delta, mul(g, per_sample(step_scale, x)));
    delta = sub(clamp(add(x, minimum(maximum(stepped, neg(radius)), radius)), 0.0, 1.0), x);
  }
  out.adversarial = best_adv;
  verify(model, x, labels, o.targeted, out);
  return out;
}

}  // namespace oa::attacks
