#include "attacks/cw_l2.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attacks/frozen_model.h"
#include "attacks/masked_adam.h"
#include "framework/autograd/node.h"
#include "framework/ops/ops.h"

namespace oa::attacks {

namespace {

constexpr double kBoxShrink = 1.0 - 1e-6;  // keeps atanh finite at the box edges
constexpr double kNoUpperBound = 1e10;

}  // namespace

AttackOutput cw_l2(nn::Module& model, const Tensor& x, const Tensor& labels, const CwL2Options& o) {
  check_attack_inputs(x, labels, "cw_l2");
  OA_CHECK(o.search_steps >= 1 && o.iterations >= 1 && o.c0 > 0 && o.lr > 0 && o.kappa >= 0,
           "cw_l2: invalid options (search steps {}, iterations {}, c0 {}, lr {}, kappa {})", o.search_steps,
           o.iterations, o.c0, o.lr, o.kappa);
  FrozenModel frozen(model);
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  const Shape per_sample{n};
  const DType dtype = x.dtype();

  // tanh space: x = (tanh(t_x) + 1) / 2, shrunk so that atanh stays finite.
  const auto xs = x.to_vector<double>();
  std::vector<double> t_x(xs.size());
  for (std::size_t k = 0; k < xs.size(); ++k) t_x[k] = std::atanh((2 * xs[k] - 1) * kBoxShrink);
  const Tensor t_x_tensor = Tensor::from_vector(t_x, x.shape()).to(dtype);

  std::vector<double> c(n, o.c0), lower(n, 0.0), upper(n, kNoUpperBound);
  std::vector<double> best_l2sq(n, std::numeric_limits<double>::infinity());
  std::vector<double> best_adv = xs;
  std::vector<double> w(xs.size(), 0.0);  // the perturbation in tanh space
  detail::MaskedAdam adam(n, dim, o.lr);
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  const double sign = o.targeted ? -1.0 : 1.0;  // untargeted margin Z_y - max; targeted its negative
  const std::int64_t check_every = std::max<std::int64_t>(1, o.iterations / 10);

  for (std::int64_t step = 0; step < o.search_steps; ++step) {
    if (!o.warm_start || step == 0) {
      std::fill(w.begin(), w.end(), 0.0);
      for (std::int64_t i = 0; i < n; ++i) adam.reset_sample(i);
    }
    std::vector<bool> active(n, true), found(n, false);
    std::vector<double> previous_loss(n, std::numeric_limits<double>::infinity());
    const Tensor c_tensor = Tensor::from_vector(c, per_sample).to(dtype);
    for (std::int64_t it = 0; it < o.iterations; ++it) {
      Tensor w_tensor = Tensor::from_vector(w, x.shape()).to(dtype).set_requires_grad();
      const Tensor x_adv = mul_scalar(add_scalar(tanh(add(t_x_tensor, w_tensor)), 1.0), 0.5);
      const Tensor logits = model(x_adv);
      const Tensor l2sq = sum(square(sub(x_adv, x)), {1, 2, 3});
      const Tensor m = mul_scalar(margin(logits, labels), sign);  // <= -kappa once adversarial
      const Tensor loss = add(l2sq, mul(c_tensor, relu(add_scalar(m, o.kappa))));
      sum(loss).backward();

      // Bookkeeping on this iterate (the one the logits belong to), before the update.
      const auto margins = m.to_vector<double>(), dists = l2sq.to_vector<double>(), losses = loss.to_vector<double>();
      const auto adv_values = x_adv.to_vector<double>();
      for (std::int64_t i = 0; i < n; ++i) {
        if (!active[i]) continue;
        out.samples[i].forwards += 1;
        out.samples[i].backwards += 1;
        // Adversarial: the (sign-adjusted) margin is negative and at most -kappa.
        if (margins[i] < 0 && margins[i] <= -o.kappa) {
          found[i] = true;
          if (dists[i] < best_l2sq[i]) {
            best_l2sq[i] = dists[i];
            std::copy_n(adv_values.begin() + i * dim, dim, best_adv.begin() + i * dim);
          }
        }
        if (o.abort_early && it % check_every == 0) {
          if (losses[i] > previous_loss[i] * 0.9999) active[i] = false;
          previous_loss[i] = losses[i];
        }
      }
      adam.step(w, w_tensor.grad().to_vector<double>(), active);
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
  out.adversarial = Tensor::from_vector(best_adv, x.shape()).to(dtype);
  verify(model, x, labels, o.targeted, out);
  return out;
}

}  // namespace oa::attacks
