// DDN against the closed-form minimal L2 distance of linear classifiers (test_models.h), and
// against PGD's upper bound on a small nonlinear net.
//
// How close DDN gets: once the direction is right, eps oscillates around the minimal norm d:
// above d (adversarial) it shrinks by (1 - gamma), below it grows by (1 + gamma). A shrink
// followed by a growth multiplies eps by 1 - gamma^2, so the smallest adversarial eps keeps
// creeping down until it is within a factor 1 / (1 - gamma^2) of d: 0.25% at gamma = 0.05.
// On two classes the gradient direction is the optimal one from the first step; on more
// classes it is a softmax-weighted mix that turns towards the optimal one near the boundary,
// so there only the coarser bound of one growth step, 1 + gamma, is asserted.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "attacks/ddn.h"
#include "attacks/pgd.h"
#include "tests/attacks/test_models.h"

using oa::Tensor;

namespace {
constexpr double kGamma = oa::attacks::DdnOptions{}.gamma;
}

TEST_CASE("ddn finds the closed-form minimal L2 distance of a two-class linear classifier within 1/(1-gamma^2)") {
  auto p = oa::test::make_two_class_problem(12);
  for (double d : p.d_2) REQUIRE(d < 0.45);  // inputs lie in [0.45, 0.55]: the box does not bind
  for (bool targeted : {false, true}) {
    CAPTURE(targeted);
    // Two classes: the target is the other class, at the same distance.
    const Tensor labels = targeted ? oa::test::next_labels(p.labels, 2) : p.labels;
    const auto out = oa::attacks::ddn(*p.model, p.x, labels, {.targeted = targeted});
    double worst = 0;
    for (std::size_t i = 0; i < p.d_2.size(); ++i) {
      CAPTURE(i);
      REQUIRE(out.samples[i].success);
      worst = std::max(worst, out.samples[i].l2 / p.d_2[i] - 1);
      CHECK(out.samples[i].l2 >= p.d_2[i] * (1 - 1e-5));  // never below the true minimum
      CHECK(out.samples[i].l2 <= p.d_2[i] / (1 - kGamma * kGamma));
      CHECK(out.samples[i].forwards == 101);
      CHECK(out.samples[i].backwards == 100);
    }
    MESSAGE(std::string(targeted ? "targeted" : "untargeted") << ": worst L2 above the minimum by " << 100 * worst << "%");
  }
}

TEST_CASE("ddn on three classes stays within one growth step of the closed form") {
  auto p = oa::test::make_linear_problem({.samples = 12});
  for (double d : p.d_2) REQUIRE(d < 0.4);  // inputs lie in [0.4, 0.6]
  const auto out = oa::attacks::ddn(*p.model, p.x, p.labels, {});
  for (std::size_t i = 0; i < p.d_2.size(); ++i) {
    CAPTURE(i);
    REQUIRE(out.samples[i].success);
    CHECK(out.samples[i].l2 >= p.d_2[i] * (1 - 1e-5));
    CHECK(out.samples[i].l2 <= p.d_2[i] * (1 + kGamma));
  }
}

TEST_CASE("ddn is no worse than the pgd_bisect L2 upper bound on a small nonlinear net") {
  auto p = oa::test::make_tiny_net_problem(12);
  const auto pgd = oa::attacks::pgd_bisect(*p.model, p.x, p.labels,
                                           {.norm = oa::attacks::Norm::L2, .eps = 4.0, .iterations = 100}, 12);
  const auto out = oa::attacks::ddn(*p.model, p.x, p.labels, {});
  double ddn_mean = 0, pgd_mean = 0;
  for (std::size_t i = 0; i < out.samples.size(); ++i) {
    CAPTURE(i);
    REQUIRE(pgd.samples[i].success);
    REQUIRE(out.samples[i].success);
    ddn_mean += out.samples[i].l2 / double(out.samples.size());
    pgd_mean += pgd.samples[i].l2 / double(out.samples.size());
    CHECK(out.samples[i].l2 <= pgd.samples[i].l2 * 1.25);  // local searches: a loose bound per sample
  }
  MESSAGE("mean L2: DDN " << ddn_mean << ", PGD " << pgd_mean);
  CHECK(ddn_mean <= pgd_mean * 1.01);
}

TEST_CASE("ddn failures are reported as failures, never as distance 0") {
  auto p = oa::test::make_two_class_problem(4);
  // One step to a norm of 1.05e-3 cannot cross any boundary.
  const auto out = oa::attacks::ddn(*p.model, p.x, p.labels, {.steps = 1, .init_norm = 1e-3});
  oa::test::check_all_failed(out, p.x);
}
