// FMN-Linf against the closed-form minimal Linf distance of two-class linear classifiers
// (test_models.h), and against PGD's upper bound and CW-Linf on a small nonlinear net.
//
// How close it gets: once adversarial, the radius eps shrinks by (1 - gamma) and grows by
// (1 + gamma) around the boundary, with gamma annealed to 0.001; the best adversarial iterate
// is then within about gamma of the minimal radius along its direction, and on a linear model
// the exact projection onto the Linf ball finds the optimal direction (the sign pattern of w).
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "attacks/cw_linf.h"
#include "attacks/fmn.h"
#include "attacks/pgd.h"
#include "tests/attacks/test_models.h"

using oa::Tensor;

TEST_CASE("fmn_linf finds the closed-form minimal Linf distance of a two-class linear classifier within 1%") {
  auto p = oa::test::make_two_class_problem(12);
  for (double d : p.d_inf) REQUIRE(d < 0.45);  // inputs in [0.45, 0.55]: the box does not bind
  for (bool targeted : {false, true}) {
    CAPTURE(targeted);
    const Tensor labels = targeted ? oa::test::next_labels(p.labels, 2) : p.labels;
    const auto out = oa::attacks::fmn_linf(*p.model, p.x, labels, {.steps = 200, .targeted = targeted});
    double worst = 0;
    for (std::size_t i = 0; i < p.d_inf.size(); ++i) {
      CAPTURE(i);
      REQUIRE(out.samples[i].success);
      worst = std::max(worst, out.samples[i].linf / p.d_inf[i] - 1);
      CHECK(out.samples[i].linf >= p.d_inf[i] * (1 - 1e-5));  // never below the true minimum
      CHECK(out.samples[i].linf <= p.d_inf[i] * 1.01);
      CHECK(out.samples[i].forwards == 200);
      CHECK(out.samples[i].backwards == 200);
    }
    MESSAGE(std::string(targeted ? "targeted" : "untargeted") << ": worst Linf above the minimum by " << 100 * worst
                                                              << "%");
  }
}

TEST_CASE("fmn_linf crosses a boundary that its first-order radius reaches exactly") {
  // z0 - z1 = 0.5 * sum(x) - 3.75 = 0.25 at x = 0.5: d_inf = 0.25 / ||w0 - w1||_1 = 1/32, and the
  // first step lands exactly on the corner -sign(w0 - w1) / 32, where the margin is exactly 0 in
  // floating point. Without the overshoot the radius stays at 1/32 and no step is adversarial.
  oa::Rng rng(1);
  auto model = std::make_shared<oa::nn::Sequential>();
  model->add(std::make_shared<oa::nn::Flatten>());
  auto fc = std::make_shared<oa::nn::Linear>(16, 2, rng);
  model->add(fc);
  std::vector<double> w(32, 0.25);
  std::fill(w.begin() + 16, w.end(), -0.25);
  fc->weight.copy_(Tensor::from_vector(w, {2, 16}));
  fc->bias.copy_(Tensor::from_vector(std::vector<double>{0.0, 3.75}, {2}));
  const Tensor x = Tensor::full({1, 1, 4, 4}, 0.5, oa::DType::Float32);
  const Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{0}, {1});
  const auto out = oa::attacks::fmn_linf(*model, x, labels, {.steps = 50});
  REQUIRE(out.samples[0].success);
  CHECK(out.samples[0].linf >= 1.0 / 32);
  CHECK(out.samples[0].linf <= 1.01 / 32);
}

TEST_CASE("fmn_linf is no worse than the pgd_bisect upper bound and CW-Linf on a small nonlinear net") {
  auto p = oa::test::make_tiny_net_problem(12);
  const auto pgd = oa::attacks::pgd_bisect(*p.model, p.x, p.labels, {.eps = 1.0, .iterations = 100}, 12);
  const auto cw = oa::attacks::cw_linf(*p.model, p.x, p.labels, {.iterations = 200});
  const auto fmn = oa::attacks::fmn_linf(*p.model, p.x, p.labels, {.steps = 200});
  double fmn_mean = 0, pgd_mean = 0, cw_mean = 0;
  const double count = double(fmn.samples.size());
  for (std::size_t i = 0; i < fmn.samples.size(); ++i) {
    CAPTURE(i);
    REQUIRE(pgd.samples[i].success);
    REQUIRE(fmn.samples[i].success);
    fmn_mean += fmn.samples[i].linf / count;
    pgd_mean += pgd.samples[i].linf / count;
    cw_mean += cw.samples[i].linf / count;
    // Local searches may end in different regions of a sample's adversarial set: per sample
    // only a loose bound.
    CHECK(fmn.samples[i].linf <= pgd.samples[i].linf * 1.25);
  }
  MESSAGE("mean Linf: FMN " << fmn_mean << ", PGD " << pgd_mean << ", CW " << cw_mean);
  CHECK(fmn_mean <= pgd_mean * 1.01);
}

TEST_CASE("fmn_linf failures are reported as failures, never as distance 0") {
  auto p = oa::test::make_two_class_problem(4);
  // One step evaluates only the clean input, which is classified correctly.
  const auto out = oa::attacks::fmn_linf(*p.model, p.x, p.labels, {.steps = 1});
  oa::test::check_all_failed(out, p.x);
  for (const auto& r : out.samples) CHECK(r.forwards == 1);
}

TEST_CASE("fmn_linf refuses invalid options") {
  auto p = oa::test::make_two_class_problem(2);
  CHECK_THROWS_WITH_AS(oa::attacks::fmn_linf(*p.model, p.x, p.labels, {.steps = 0}), doctest::Contains("fmn_linf"),
                       oa::Error);
  CHECK_THROWS_WITH_AS(oa::attacks::fmn_linf(*p.model, p.x, p.labels, {.gamma_init = 1.5}),
                       doctest::Contains("gamma"), oa::Error);
}
