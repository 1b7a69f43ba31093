#include "attacks/pgd.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "attacks/frozen_model.h"
#include "framework/autograd/node.h"
#include "framework/ops/ops.h"

namespace oa::attacks {

namespace {

// Projects row i of delta onto the eps-ball of the norm, then keeps x + delta in [0, 1].
void project(std::vector<double>& delta, const std::vector<double>& x, std::int64_t i, std::int64_t dim, Norm norm,
             double eps) {
  const std::int64_t begin = i * dim, end = (i + 1) * dim;
  if (norm == Norm::Linf) {
    for (std::int64_t k = begin; k < end; ++k) delta[k] = std::clamp(delta[k], -eps, eps);
  } else {
    double norm2 = 0;
    for (std::int64_t k = begin; k < end; ++k) norm2 += delta[k] * delta[k];
    const double scale = norm2 > eps * eps ? eps / std::sqrt(norm2) : 1.0;
    for (std::int64_t k = begin; k < end; ++k) delta[k] *= scale;
  }
  for (std::int64_t k = begin; k < end; ++k) delta[k] = std::clamp(x[k] + delta[k], 0.0, 1.0) - x[k];
}

// PGD with a radius per sample (eps[i]); o.eps is ignored. Not verified: callers verify.
AttackOutput pgd_with_radii(nn::Module& model, const Tensor& x, const Tensor& labels, const PgdOptions& o,
                            const std::vector<double>& eps) {
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  std::vector<double> step(n);
  for (std::int64_t i = 0; i < n; ++i) step[i] = o.step > 0 ? o.step : 2.5 * eps[i] / static_cast<double>(o.iterations);
  const auto xs = x.to_vector<double>();
  std::vector<double> delta(xs.size(), 0.0), best = xs;
  std::vector<bool> done(n, false);
  std::mt19937_64 rng(o.seed);
  if (o.random_start) {
    // Uniform in the Linf cube of side 2 eps, then projected onto the ball (for L2 a simple
    // random start, not uniform in the ball) and the box.
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    for (std::int64_t k = 0; k < n * dim; ++k) delta[k] = eps[k / dim] * uniform(rng);
    for (std::int64_t i = 0; i < n; ++i) project(delta, xs, i, dim, o.norm, eps[i]);
  }
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  for (std::int64_t it = 0; it <= o.iterations; ++it) {
    Tensor d = tensor_like(delta, x.shape(), x).set_requires_grad();
    const Tensor logits = model(add(x, d));
    const Tensor loss = cross_entropy(logits, labels);
    // Success of this iterate (before its step): keep the first adversarial one.
    const auto m = margin(logits.detach(), labels).to_vector<double>();
    for (std::int64_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      out.samples[i].forwards += 1;
      if (o.targeted ? m[i] > 0 : m[i] < 0) {
        done[i] = true;
        out.samples[i].success = true;  // provisional: the caller's verify() decides
        for (std::int64_t k = i * dim; k < (i + 1) * dim; ++k) best[k] = xs[k] + delta[k];
      }
    }
    if (it == o.iterations || std::all_of(done.begin(), done.end(), [](bool b) { return b; })) break;
    loss.backward();
    const auto g = d.grad().to_vector<double>();
    const double direction = o.targeted ? -1.0 : 1.0;  // ascend the loss, or descend towards the target
    for (std::int64_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      out.samples[i].backwards += 1;
      const std::int64_t begin = i * dim, end = (i + 1) * dim;
      if (o.norm == Norm::Linf) {
        for (std::int64_t k = begin; k < end; ++k) delta[k] += direction * step[i] * ((g[k] > 0) - (g[k] < 0));
      } else {
        double norm2 = 0;
        for (std::int64_t k = begin; k < end; ++k) norm2 += g[k] * g[k];
        const double scale = norm2 > 0 ? direction * step[i] / std::sqrt(norm2) : 0.0;
        for (std::int64_t k = begin; k < end; ++k) delta[k] += scale * g[k];
      }
      project(delta, xs, i, dim, o.norm, eps[i]);
    }
  }
  out.adversarial = tensor_like(best, x.shape(), x);
  return out;
}

void check_pgd_options(const PgdOptions& o, const char* op) {
  OA_CHECK(o.eps >= 0 && o.step >= 0 && o.iterations >= 1, "{}: invalid eps {}, step {} or iterations {}", op, o.eps,
           o.step, o.iterations);
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

AttackOutput pgd_bisect(nn::Module& model, const Tensor& x, const Tensor& labels, const PgdOptions& o,
                        std::int64_t steps) {
  check_attack_inputs(x, labels, "pgd_bisect");
  check_pgd_options(o, "pgd_bisect");
  OA_CHECK(steps >= 1, "pgd_bisect: {} bisection steps", steps);
  FrozenModel frozen(model);
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  std::vector<double> lo(n, 0.0), hi(n, o.eps);
  // The largest radius first: samples it cannot break are failures.
  AttackOutput out = pgd_with_radii(model, x, labels, o, hi);
  auto best = out.adversarial.to_vector<double>();
  for (std::int64_t s = 0; s < steps; ++s) {
    std::vector<double> mid(n);
    for (std::int64_t i = 0; i < n; ++i) mid[i] = (lo[i] + hi[i]) / 2;
    const AttackOutput trial = pgd_with_radii(model, x, labels, o, mid);
    const auto adv = trial.adversarial.to_vector<double>();
    for (std::int64_t i = 0; i < n; ++i) {
      out.samples[i].forwards += trial.samples[i].forwards;
      out.samples[i].backwards += trial.samples[i].backwards;
      if (trial.samples[i].success) {
        hi[i] = mid[i];
        std::copy_n(adv.begin() + i * dim, dim, best.begin() + i * dim);
      } else {
        lo[i] = mid[i];
      }
    }
  }
  out.adversarial = tensor_like(best, x.shape(), x);
  verify(model, x, labels, o.targeted, out);
  return out;
}

}  // namespace oa::attacks
