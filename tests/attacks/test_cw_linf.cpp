// CW-Linf against the closed-form minimal Linf distance of two-class linear classifiers
// (test_models.h), and against PGD's upper bound on a small nonlinear net.
//
// How close the tau iteration gets: after the last solved problem (an adversarial delta with
// Linf distance L), the problem at tau = tau_decrease * L was not solved. On a linear
// two-class model it is solvable whenever tau > d_inf, so d_inf <= L < d_inf / tau_decrease
// (11% at the paper's 0.9). The best iterate gets closer: in that last problem the penalty
// pulls every |delta_i| above tau inwards, and the iterates stay adversarial until delta
// crosses the boundary, which it does close to d_inf when Adam's steps are small (lr 1e-3
// against distances near 0.09 here). Measured: within 1.2%.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "attacks/cw_linf.h"
#include "attacks/pgd.h"
#include "tests/attacks/test_models.h"

using oa::Tensor;

TEST_CASE("cw_linf finds the closed-form minimal Linf distance of a two-class linear classifier within 2%") {
  auto p = oa::test::make_two_class_problem(12);
  // Inputs lie in [0.45, 0.55]: a perturbation with Linf norm d < 0.45 stays inside [0, 1].
  for (double d : p.d_inf) REQUIRE(d < 0.45);
  for (bool targeted : {false, true}) {
    CAPTURE(targeted);
    // Two classes: the target is the other class, at the same distance.
    const Tensor labels = targeted ? oa::test::next_labels(p.labels, 2) : p.labels;
    const auto out = oa::attacks::cw_linf(*p.model, p.x, labels, {.iterations = 200, .targeted = targeted});
    double worst = 0;
    for (std::size_t i = 0; i < p.d_inf.size(); ++i) {
      CAPTURE(i);
      REQUIRE(out.samples[i].success);
      worst = std::max(worst, out.samples[i].linf / p.d_inf[i] - 1);
      CHECK(out.samples[i].linf >= p.d_inf[i] * (1 - 1e-5));  // never below the true minimum
      CHECK(out.samples[i].linf <= p.d_inf[i] * 1.02);
      CHECK(out.samples[i].c > 0);  // some (tau, c) was solved
    }
    MESSAGE(std::string(targeted ? "targeted" : "untargeted") << ": worst Linf above the minimum by " << 100 * worst
                                                              << "%");
  }
}

TEST_CASE("cw_linf: the solved tau bounds the result, with a coarse lr too") {
  // lr 5e-3: Adam's steps are coarse, the best iterate is the last solved one, and only the
  // tau grid bounds it: within 1 / tau_decrease of d_inf.
  auto p = oa::test::make_two_class_problem(12);
  for (double tau_decrease : {0.9, 0.98}) {
    CAPTURE(tau_decrease);
    const auto out =
        oa::attacks::cw_linf(*p.model, p.x, p.labels, {.iterations = 200, .lr = 5e-3, .tau_decrease = tau_decrease});
    for (std::size_t i = 0; i < p.d_inf.size(); ++i) {
      CAPTURE(i);
      REQUIRE(out.samples[i].success);
      CHECK(out.samples[i].linf >= p.d_inf[i] * (1 - 1e-5));
      CHECK(out.samples[i].linf < p.d_inf[i] / tau_decrease);
    }
  }
}

TEST_CASE("cw_linf is no worse than the pgd_bisect upper bound on a small nonlinear net") {
  auto p = oa::test::make_tiny_net_problem(12);
  const auto pgd = oa::attacks::pgd_bisect(*p.model, p.x, p.labels, {.eps = 1.0, .iterations = 100}, 12);
  const auto cw = oa::attacks::cw_linf(*p.model, p.x, p.labels, {.iterations = 200});
  double cw_mean = 0, pgd_mean = 0;
  for (std::size_t i = 0; i < cw.samples.size(); ++i) {
    CAPTURE(i);
    REQUIRE(pgd.samples[i].success);
    REQUIRE(cw.samples[i].success);
    cw_mean += cw.samples[i].linf / double(cw.samples.size());
    pgd_mean += pgd.samples[i].linf / double(cw.samples.size());
    // Both are local searches and may end in different regions of a sample's adversarial set
    // (measured: CW-Linf from 17% below to 11% above PGD): per sample only a loose bound.
    CHECK(cw.samples[i].linf <= pgd.samples[i].linf * 1.25);
  }
  MESSAGE("mean Linf: CW " << cw_mean << ", PGD " << pgd_mean);
  CHECK(cw_mean <= pgd_mean * 1.01);
}

TEST_CASE("cw_linf failures are reported as failures, never as distance 0") {
  auto p = oa::test::make_two_class_problem(4);
  // One Adam step cannot cross any boundary.
  const auto out = oa::attacks::cw_linf(*p.model, p.x, p.labels, {.max_steps = 1});
  oa::test::check_all_failed(out, p.x);
  for (const auto& r : out.samples) CHECK(r.forwards == 1);
}
