#include "attacks/pgd.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "attacks/frozen_model.h"
#include "framework/autograd/node.h"
#include "framework/ops/ops.h"

namespace oa::attacks {

namespace {

// Projects each sample of delta onto its eps-ball of the norm (eps: [N, 1, 1, 1] and the
// host copy of the radii), then keeps x + delta in [0, 1].
Tensor project(const Tensor& delta, const Tensor& x, Norm norm, const Tensor& eps, const std::vector<double>& radii) {
  Tensor in_ball;
  if (norm == Norm::Linf) {
    in_ball = minimum(maximum(delta, neg(eps)), eps);
  } else {  // scale down the samples outside the ball
    const auto norms = row_l2_norms(delta);
    std::vector<double> scale(norms.size());
    for (std::size_t i = 0; i < norms.size(); ++i) scale[i] = norms[i] > radii[i] ? radii[i] / norms[i] : 1.0;
    in_ball = mul(delta, per_sample(scale, x));
  }
  return sub(clamp(add(x, in_ball), 0.0, 1.0), x);
}

// What PGD returns for a sample: its first adversarial iterate (attacks), or its last
// iterate after every step (adversarial training).
enum class Keep { FirstAdversarial, LastIterate };

// PGD with a radius per sample (eps[i]); o.eps is ignored. Not verified: callers verify.
// Per-pixel state (delta, the adversarial examples) lives where x lives; per-sample numbers
// (margins, gradient norms, flags) come to the host.
AttackOutput pgd_with_radii(nn::Module& model, const Tensor& x, const Tensor& labels, const PgdOptions& o,
                            const std::vector<double>& eps, Keep keep = Keep::FirstAdversarial) {
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  std::vector<double> step(n);
  for (std::int64_t i = 0; i < n; ++i) step[i] = o.step > 0 ? o.step : 2.5 * eps[i] / static_cast<double>(o.iterations);
  const Tensor eps_t = per_sample(eps, x);
  Tensor delta = Tensor::zeros(x.shape(), x.dtype(), x.device()), best = x.clone();
  std::vector<bool> done(n, false);
  if (o.random_start) {
    // Uniform in the Linf cube of side 2 eps, then projected onto the ball (for L2 a simple
    // random start, not uniform in the ball) and the box.
    std::mt19937_64 rng(o.seed);
    rng.discard(static_cast<unsigned long long>(o.first_row * dim));  // one draw per pixel of the rows before
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<double> start(static_cast<std::size_t>(n * dim));
    for (std::int64_t k = 0; k < n * dim; ++k) start[k] = eps[k / dim] * uniform(rng);
    delta = project(tensor_like(start, x.shape(), x), x, o.norm, eps_t, eps);
  }
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  const double direction = o.targeted ? -1.0 : 1.0;  // ascend the loss, or descend towards the target
  for (std::int64_t it = 0; it <= o.iterations; ++it) {
    if (keep == Keep::LastIterate && it == o.iterations) break;  // the last iterate needs no forward
    Tensor d = delta.detach().set_requires_grad();
    const Tensor logits = model(add(x, d));
    const Tensor loss = cross_entropy(logits, labels);
    // Success of this iterate (before its step): keep the first adversarial one.
    const auto m = margin(logits.detach(), labels).to_vector<double>();
    std::vector<bool> newly_done(n, false);
    for (std::int64_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      out.samples[i].forwards += 1;
      if (keep == Keep::LastIterate) continue;  // every sample runs every step
      if (o.targeted ? m[i] > 0 : m[i] < 0) {
        done[i] = newly_done[i] = true;
        out.samples[i].success = true;  // provisional: the caller's verify() decides
      }
    }
    if (std::find(newly_done.begin(), newly_done.end(), true) != newly_done.end())
      best = where(row_mask(newly_done, x), add(x, delta), best);
    if (it == o.iterations || std::all_of(done.begin(), done.end(), [](bool b) { return b; })) break;
    loss.backward();
    const Tensor g = d.grad();
    // The step of the samples still running: step * sign(g) (Linf) or step * g / |g| (L2).
    const auto g_norm = o.norm == Norm::L2 ? row_l2_norms(g) : std::vector<double>(n, 1.0);
    std::vector<double> scale(n, 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      out.samples[i].backwards += 1;
      if (g_norm[i] > 0) scale[i] = direction * step[i] / g_norm[i];
    }
    delta = add(delta, mul(o.norm == Norm::Linf ? sign(g) : g, per_sample(scale, x)));
    delta = project(delta, x, o.norm, eps_t, eps);
  }
  out.adversarial = keep == Keep::LastIterate ? add(x, delta).detach() : best;
  return out;
}

void check_pgd_options(const PgdOptions& o, const char* op) {
  OA_CHECK(o.eps >= 0 && o.step >= 0 && o.iterations >= 1 && o.first_row >= 0,
           "{}: invalid eps {}, step {}, iterations {} or first row {}", op, o.eps, o.step, o.iterations, o.first_row);
}

}  // namespace

AttackOutput pgd(nn::Module& model, const Tensor& x, const Tensor& labels, const PgdOptions& o) {
  check_attack_inputs(x, labels, "pgd");
  check_pgd_options(o, "pgd");
  FrozenModel frozen(model);
  AttackOutput out = pgd_with_radii(model, x, labels, o, std::vector<double>(x.size(0), o.eps));
  verify(model, x, labels, o.targeted, out);
  return out;
}

Tensor pgd_training_examples(nn::Module& model, const Tensor& x, const Tensor& labels, const PgdOptions& o) {
  check_attack_inputs(x, labels, "pgd_training_examples");
  check_pgd_options(o, "pgd_training_examples");
  OA_CHECK(!o.targeted, "pgd_training_examples: adversarial training is untargeted");
  FrozenModel frozen(model);
  return pgd_with_radii(model, x, labels, o, std::vector<double>(x.size(0), o.eps), Keep::LastIterate).adversarial;
}

AttackOutput pgd_bisect(nn::Module& model, const Tensor& x, const Tensor& labels, const PgdOptions& o,
                        std::int64_t steps) {
  check_attack_inputs(x, labels, "pgd_bisect");
  check_pgd_options(o, "pgd_bisect");
  OA_CHECK(steps >= 1, "pgd_bisect: {} bisection steps", steps);
  FrozenModel frozen(model);
  const std::int64_t n = x.size(0);
  std::vector<double> lo(n, 0.0), hi(n, o.eps);
  // The largest radius first: samples it cannot break are failures.
  AttackOutput out = pgd_with_radii(model, x, labels, o, hi);
  for (std::int64_t s = 0; s < steps; ++s) {
    std::vector<double> mid(n);
    for (std::int64_t i = 0; i < n; ++i) mid[i] = (lo[i] + hi[i]) / 2;
    const AttackOutput trial = pgd_with_radii(model, x, labels, o, mid);
    std::vector<bool> smaller(n, false);  // broken at the smaller radius: keep that example
    for (std::int64_t i = 0; i < n; ++i) {
      out.samples[i].forwards += trial.samples[i].forwards;
      out.samples[i].backwards += trial.samples[i].backwards;
      smaller[i] = trial.samples[i].success;
      (smaller[i] ? hi[i] : lo[i]) = mid[i];
    }
    out.adversarial = where(row_mask(smaller, x), trial.adversarial, out.adversarial);
  }
  verify(model, x, labels, o.targeted, out);
  return out;
}

}  // namespace oa::attacks
