// PGD on two-class linear classifiers, where the exact minimal distances are known:
//   Linf: d_inf = margin / || w_y - w_other ||_1,   L2: d_2 = margin / || w_y - w_other ||_2.
// No point inside a ball of radius below d is adversarial, so PGD must fail there whatever it
// does; slightly above d, the (sign-)gradient points straight at the boundary and PGD succeeds.
#include <doctest/doctest.h>

#include <cmath>

#include "attacks/pgd.h"
#include "framework/data/dataset.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"

using oa::Tensor;
using oa::attacks::Norm;

namespace {

struct TwoClassProblem {
  std::shared_ptr<oa::nn::Sequential> model;
  Tensor x, labels;
  std::vector<double> d_inf, d_2;
};

TwoClassProblem make_two_class(std::int64_t n) {
  oa::Rng rng(5);
  TwoClassProblem p;
  p.model = std::make_shared<oa::nn::Sequential>();
  p.model->add(std::make_shared<oa::nn::Flatten>());
  auto fc = std::make_shared<oa::nn::Linear>(16, 2, rng);
  p.model->add(fc);
  fc->weight.copy_(oa::randn({2, 16}, rng, 3.0));
  p.x = oa::rand_uniform({n, 1, 4, 4}, rng, 0.45, 0.55);
  const auto w = fc->weight.to_vector<double>(), b = fc->bias.to_vector<double>(), x = p.x.to_vector<double>();
  std::vector<std::int64_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) {
    double z0 = b[0], z1 = b[1], l1 = 0, l2 = 0;
    for (int f = 0; f < 16; ++f) {
      z0 += w[f] * x[i * 16 + f];
      z1 += w[16 + f] * x[i * 16 + f];
      l1 += std::abs(w[f] - w[16 + f]);
      l2 += std::pow(w[f] - w[16 + f], 2);
    }
    labels[i] = z1 > z0;
    p.d_inf.push_back(std::abs(z1 - z0) / l1);
    p.d_2.push_back(std::abs(z1 - z0) / std::sqrt(l2));
  }
  p.labels = Tensor::from_vector(labels, {n});
  return p;
}

// Runs PGD with a per-sample radius factor * d; returns how many samples were broken.
int broken(TwoClassProblem& p, Norm norm, double factor) {
  int count = 0;
  const auto& d = norm == Norm::Linf ? p.d_inf : p.d_2;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const std::vector<std::int64_t> row{static_cast<std::int64_t>(i)};  // one sample, its own radius
    const auto out = oa::attacks::pgd(*p.model, oa::data::take_rows(p.x, row), oa::data::take_rows(p.labels, row),
                                      {.norm = norm, .eps = factor * d[i], .iterations = 50});
    count += out.samples[0].success;
  }
  return count;
}

}  // namespace

TEST_CASE("pgd: fails below the exact minimal distance and succeeds just above it") {
  TwoClassProblem p = make_two_class(10);
  for (double d : p.d_inf) REQUIRE(d < 0.4);  // the box [0, 1] does not bind
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    CAPTURE(norm == Norm::Linf);
    CHECK(broken(p, norm, 0.98) == 0);
    CHECK(broken(p, norm, 1.02) == 10);
  }
}

TEST_CASE("pgd: success rate does not decrease with eps") {
  TwoClassProblem p = make_two_class(10);
  int previous = 0;
  for (double factor : {0.5, 0.9, 1.01, 1.5, 3.0}) {
    const int now = broken(p, Norm::Linf, factor);
    CHECK(now >= previous);
    previous = now;
  }
  CHECK(previous == 10);
}

TEST_CASE("pgd_bisect: its upper bound is the exact distance up to the bisection resolution") {
  TwoClassProblem p = make_two_class(10);
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    CAPTURE(norm == Norm::Linf);
    const auto out = oa::attacks::pgd_bisect(*p.model, p.x, p.labels, {.norm = norm, .eps = 1.0, .iterations = 50}, 12);
    const auto& d = norm == Norm::Linf ? p.d_inf : p.d_2;
    for (std::size_t i = 0; i < d.size(); ++i) {
      CAPTURE(i);
      REQUIRE(out.samples[i].success);
      const double dist = norm == Norm::Linf ? out.samples[i].linf : out.samples[i].l2;
      CHECK(dist >= d[i] * (1 - 1e-6));      // no point closer than the exact minimum exists
      // 12 halvings of the radius 1. Linf sign steps reach the boundary exactly; L2 PGD from a
      // random point of the sphere turns towards the optimal direction only gradually, and a
      // miss at one radius moves the lower end up: 50 iterations land within 5% (measured 2.5%).
      CHECK(dist <= d[i] * (norm == Norm::Linf ? 1.0 : 1.05) + 1.0 / 4096 + 1e-6);
    }
  }
}
