#include "attacks/cw_linf.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attacks/frozen_model.h"
#include "attacks/masked_adam.h"
#include "framework/autograd/node.h"
#include "framework/ops/ops.h"

namespace oa::attacks {

AttackOutput cw_linf(nn::Module& model, const Tensor& x, const Tensor& labels, const CwLinfOptions& o) {
  check_attack_inputs(x, labels, "cw_linf");
  OA_CHECK(o.iterations >= 1 && o.lr > 0 && o.c0 > 0 && o.c_max >= o.c0 && o.tau0 > 0 && o.tau_decrease > 0 &&
               o.tau_decrease < 1 && o.tau_min >= 0 && o.max_steps >= 0 && o.kappa >= 0,
           "cw_linf: invalid options (iterations {}, lr {}, c0 {}, c_max {}, tau0 {}, tau_decrease {}, tau_min {}, "
           "max_steps {}, kappa {})",
           o.iterations, o.lr, o.c0, o.c_max, o.tau0, o.tau_decrease, o.tau_min, o.max_steps, o.kappa);
  FrozenModel frozen(model);
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  const DType dtype = x.dtype();
  const auto xs = x.to_vector<double>();

  std::vector<double> tau(n, o.tau0), c(n, o.c0), solved_c(n, 0.0);
  std::vector<std::int64_t> steps_at_c(n, 0);  // Adam steps spent on the current (tau, c)
  std::vector<bool> running(n, true);
  std::vector<double> best_linf(n, std::numeric_limits<double>::infinity());
  std::vector<double> best_adv = xs;
  std::vector<double> delta(xs.size(), 0.0);
  detail::MaskedAdam adam(n, dim, o.lr);
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  const double sign = o.targeted ? -1.0 : 1.0;  // untargeted margin Z_y - max; targeted its negative

  while (std::any_of(running.begin(), running.end(), [](bool r) { return r; })) {
    Tensor d = Tensor::from_vector(delta, x.shape()).to(dtype).set_requires_grad();
    const Tensor logits = model(add(x, d));
    const Tensor tau_tensor = Tensor::from_vector(tau, {n, 1, 1, 1}).to(dtype);
    const Tensor excess = sum(relu(sub(abs(d), tau_tensor)), {1, 2, 3});
    const Tensor m = mul_scalar(margin(logits, labels), sign);  // <= -kappa once adversarial
    const Tensor c_tensor = Tensor::from_vector(c, {n}).to(dtype);
    sum(add(mul(c_tensor, relu(add_scalar(m, o.kappa))), excess)).backward();

    // Bookkeeping on this iterate (the one the logits belong to), before the update.
    const auto margins = m.to_vector<double>();
    std::vector<bool> update = running;
    for (std::int64_t i = 0; i < n; ++i) {
      if (!running[i]) continue;
      SampleResult& r = out.samples[i];
      r.forwards += 1;
      r.backwards += 1;
      double linf = 0;
      for (std::int64_t k = i * dim; k < (i + 1) * dim; ++k) linf = std::max(linf, std::abs(delta[k]));
      const bool adversarial = margins[i] < 0 && margins[i] <= -o.kappa;
      if (adversarial && linf < best_linf[i]) {
        best_linf[i] = linf;
        for (std::int64_t k = i * dim; k < (i + 1) * dim; ++k) best_adv[k] = xs[k] + delta[k];
      }
      if (adversarial && linf < tau[i]) {
        // Solved: a smaller tau, warm-started from this delta with a fresh Adam.
        tau[i] = o.tau_decrease * std::min(tau[i], linf);
        solved_c[i] = c[i];
        steps_at_c[i] = 0;
        adam.reset_sample(i);
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
    adam.step(delta, d.grad().to_vector<double>(), update);
    // Back into the box: x + delta in [0, 1].
    for (std::size_t k = 0; k < delta.size(); ++k) delta[k] = std::clamp(xs[k] + delta[k], 0.0, 1.0) - xs[k];
  }
  for (std::int64_t i = 0; i < n; ++i) out.samples[i].c = solved_c[i];
  out.adversarial = Tensor::from_vector(best_adv, x.shape()).to(dtype);
  verify(model, x, labels, o.targeted, out);
  return out;
}

}  // namespace oa::attacks
