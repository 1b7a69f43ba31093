#include "attacks/cw_linf.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attacks/frozen_model.h"
#include "framework/autograd/node.h"
#include "framework/ops/ops.h"
#include "framework/optim/row_adam.h"

namespace oa::attacks {

AttackOutput cw_linf(nn::Module& model, const Tensor& x, const Tensor& labels, const CwLinfOptions& o) {
  check_attack_inputs(x, labels, "cw_linf");
  OA_CHECK(o.iterations >= 1 && o.lr > 0 && o.c0 > 0 && o.c_max >= o.c0 && o.tau0 > 0 && o.tau_decrease > 0 &&
               o.tau_decrease < 1 && o.tau_min >= 0 && o.max_steps >= 0 && o.kappa >= 0,
           "cw_linf: invalid options (iterations {}, lr {}, c0 {}, c_max {}, tau0 {}, tau_decrease {}, tau_min {}, "
           "max_steps {}, kappa {})",
           o.iterations, o.lr, o.c0, o.c_max, o.tau0, o.tau_decrease, o.tau_min, o.max_steps, o.kappa);
  FrozenModel frozen(model);
  const std::int64_t n = x.size(0);

  // Per-pixel state (delta, Adam's moments, the best example) lives where x lives; only
  // per-sample numbers (tau, c, margins, Linf norms, flags) come to the host.
  std::vector<double> tau(n, o.tau0), c(n, o.c0), solved_c(n, 0.0);
  std::vector<std::int64_t> steps_at_c(n, 0);  // Adam steps spent on the current (tau, c)
  std::vector<bool> running(n, true);
  std::vector<double> best_linf(n, std::numeric_limits<double>::infinity());
  Tensor best_adv = x.clone();
  Tensor delta = Tensor::zeros(x.shape(), x.dtype(), x.device());
  optim::RowAdam adam(delta, {.lr = o.lr});  // one Adam per sample
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  const double sign = o.targeted ? -1.0 : 1.0;  // untargeted margin Z_y - max; targeted its negative

  while (std::any_of(running.begin(), running.end(), [](bool r) { return r; })) {
    Tensor d = delta.detach().set_requires_grad();  // shares delta's storage; Adam updates it in place
    const Tensor logits = model(add(x, d));
    const Tensor tau_tensor = tensor_like(tau, {n, 1, 1, 1}, x);
    const Tensor excess = sum(relu(sub(abs(d), tau_tensor)), {1, 2, 3});
    const Tensor m = mul_scalar(margin(logits, labels), sign);  // <= -kappa once adversarial
    const Tensor c_tensor = tensor_like(c, {n}, x);
    sum(add(mul(c_tensor, relu(add_scalar(m, o.kappa))), excess)).backward();

    // Bookkeeping on this iterate (the one the logits belong to), before the update.
    const auto margins = m.to_vector<double>();
    const auto linf = row_linf_norms(delta);
    std::vector<bool> update = running, improved(n, false), solved(n, false);
    for (std::int64_t i = 0; i < n; ++i) {
      if (!running[i]) continue;
      SampleResult& r = out.samples[i];
      r.forwards += 1;
      r.backwards += 1;
      const bool adversarial = margins[i] < 0 && margins[i] <= -o.kappa;
      if (adversarial && linf[i] < best_linf[i]) {
        best_linf[i] = linf[i];
        improved[i] = true;
      }
      if (adversarial && linf[i] < tau[i]) {
        // Solved: a smaller tau, warm-started from this delta with a fresh Adam.
        tau[i] = o.tau_decrease * std::min(tau[i], linf[i]);
        solved_c[i] = c[i];
        steps_at_c[i] = 0;
        solved[i] = true;
        update[i] = false;  // this gradient belongs to the old tau
        running[i] = tau[i] >= o.tau_min;
      } else if (++steps_at_c[i] == o.iterations) {
        c[i] *= 2;
        steps_at_c[i] = 0;
        running[i] = c[i] <= o.c_max;
      }
      if (o.max_steps > 0 && r.forwards >= o.max_steps) running[i] = false;
      update[i] = update[i] && running[i];
    }
    NoGradGuard no_grad;
    if (std::find(improved.begin(), improved.end(), true) != improved.end())
      best_adv = where(row_mask(improved, x), add(x, delta), best_adv);
    if (std::find(solved.begin(), solved.end(), true) != solved.end()) adam.reset(solved);
    adam.step(delta, d.grad(), update);
    delta.copy_(sub(clamp(add(x, delta), 0.0, 1.0), x));  // back into the box: x + delta in [0, 1]
  }
  for (std::int64_t i = 0; i < n; ++i) out.samples[i].c = solved_c[i];
  out.adversarial = best_adv;
  verify(model, x, labels, o.targeted, out);
  return out;
}

}  // namespace oa::attacks
