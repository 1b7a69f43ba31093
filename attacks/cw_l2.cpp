#include "attacks/cw_l2.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attacks/frozen_model.h"
#include "framework/autograd/node.h"
#include "framework/ops/ops.h"
#include "framework/optim/row_adam.h"

namespace oa::attacks {

namespace {

constexpr double kBoxShrink = 1.0 - 1e-6;  // keeps atanh finite at the box edges
constexpr double kNoUpperBound = 1e10;

// atanh((2 x - 1) * shrink) = 0.5 * log((1 + u) / (1 - u)) with u = (2 x - 1) * shrink.
Tensor atanh_shrunk(const Tensor& x) {
  const Tensor u = mul_scalar(add_scalar(mul_scalar(x, 2.0), -1.0), kBoxShrink);
  return mul_scalar(log(div(add_scalar(u, 1.0), add_scalar(neg(u), 1.0))), 0.5);
}

}  // namespace

AttackOutput cw_l2(nn::Module& model, const Tensor& x, const Tensor& labels, const CwL2Options& o) {
  check_attack_inputs(x, labels, "cw_l2");
  OA_CHECK(o.search_steps >= 1 && o.iterations >= 1 && o.c0 > 0 && o.lr > 0 && o.kappa >= 0,
           "cw_l2: invalid options (search steps {}, iterations {}, c0 {}, lr {}, kappa {})", o.search_steps,
           o.iterations, o.c0, o.lr, o.kappa);
  FrozenModel frozen(model);
  const std::int64_t n = x.size(0);
  const Shape per_sample{n};

  // tanh space: x = (tanh(t_x) + 1) / 2, shrunk so that atanh stays finite. The state that
  // has one value per pixel (the perturbation w, Adam's moments, the best example) lives
  // where x lives; only per-sample numbers (c, the bounds, distances, flags) come to the host.
  Tensor t_x;
  {
    NoGradGuard no_grad;
    t_x = atanh_shrunk(x);
  }
  std::vector<double> c(n, o.c0), lower(n, 0.0), upper(n, kNoUpperBound);
  std::vector<double> best_l2sq(n, std::numeric_limits<double>::infinity());
  Tensor best_adv = x.clone();
  Tensor w = Tensor::zeros(x.shape(), x.dtype(), x.device());  // the perturbation in tanh space
  optim::RowAdam adam(w, {.lr = o.lr});  // one Adam per sample
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  const double sign = o.targeted ? -1.0 : 1.0;  // untargeted margin Z_y - max; targeted its negative
  const std::int64_t check_every = std::max<std::int64_t>(1, o.iterations / 10);
  const std::vector<bool> everyone(n, true);

  for (std::int64_t step = 0; step < o.search_steps; ++step) {
    if (!o.warm_start || step == 0) {
      w.fill_(0.0);
      adam.reset(everyone);
    }
    std::vector<bool> active(n, true), found(n, false);
    std::vector<double> previous_loss(n, std::numeric_limits<double>::infinity());
    const Tensor c_tensor = tensor_like(c, per_sample, x);
    for (std::int64_t it = 0; it < o.iterations; ++it) {
      Tensor w_var = w.detach().set_requires_grad();  // shares w's storage; Adam updates it in place
      const Tensor x_adv = mul_scalar(add_scalar(tanh(add(t_x, w_var)), 1.0), 0.5);
      const Tensor logits = model(x_adv);
      const Tensor l2sq = sum(square(sub(x_adv, x)), {1, 2, 3});
      const Tensor m = mul_scalar(margin(logits, labels), sign);  // <= -kappa once adversarial
      const Tensor loss = add(l2sq, mul(c_tensor, relu(add_scalar(m, o.kappa))));
      sum(loss).backward();

      // Bookkeeping on this iterate (the one the logits belong to), before the update.
      const auto margins = m.to_vector<double>(), dists = l2sq.to_vector<double>(), losses = loss.to_vector<double>();
      std::vector<bool> improved(n, false);
      for (std::int64_t i = 0; i < n; ++i) {
        if (!active[i]) continue;
        out.samples[i].forwards += 1;
        out.samples[i].backwards += 1;
        // Adversarial: the (sign-adjusted) margin is negative and at most -kappa.
        if (margins[i] < 0 && margins[i] <= -o.kappa) {
          found[i] = true;
          if (dists[i] < best_l2sq[i]) {
            best_l2sq[i] = dists[i];
            improved[i] = true;
          }
        }
        if (o.abort_early && it % check_every == 0) {
          if (losses[i] > previous_loss[i] * 0.9999) active[i] = false;
          previous_loss[i] = losses[i];
        }
      }
      if (std::find(improved.begin(), improved.end(), true) != improved.end())
        best_adv = where(row_mask(improved, x), x_adv.detach(), best_adv);
      adam.step(w, w_var.grad(), active);
      if (std::none_of(active.begin(), active.end(), [](bool a) { return a; })) break;
    }
    // The per-sample search over c: x10 until success, then bisection.
    for (std::int64_t i = 0; i < n; ++i) {
      if (found[i]) {
        upper[i] = std::min(upper[i], c[i]);
        c[i] = (lower[i] + upper[i]) / 2;
      } else {
        lower[i] = std::max(lower[i], c[i]);
        c[i] = upper[i] < kNoUpperBound ? (lower[i] + upper[i]) / 2 : c[i] * 10;
      }
    }
  }
  // The reported c: the smallest that succeeded (the last one tried where none did).
  for (std::int64_t i = 0; i < n; ++i) out.samples[i].c = upper[i] < kNoUpperBound ? upper[i] : lower[i];
  out.adversarial = best_adv;
  verify(model, x, labels, o.targeted, out);
  return out;
}

}  // namespace oa::attacks
