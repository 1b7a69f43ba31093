// CW-L2 against the closed-form minimal L2 distance of linear classifiers (test_models.h).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "attacks/cw_l2.h"
#include "tests/attacks/test_models.h"

using oa::Tensor;

namespace {

oa::test::LinearProblem make_problem(std::int64_t n, std::int64_t classes = 3) {
  return oa::test::make_linear_problem({.samples = n, .classes = classes});
}

}  // namespace

TEST_CASE("cw_l2 finds the closed-form minimal L2 distance of a linear classifier within 1%") {
  auto p = make_problem(12);
  // Inputs lie in [0.4, 0.6]: a perturbation of L2 norm d < 0.4 moves no pixel out of [0, 1].
  for (double d : p.d_2) REQUIRE(d < 0.4);
  for (bool warm : {false, true}) {
    CAPTURE(warm);
    const auto out = oa::attacks::cw_l2(*p.model, p.x, p.labels,
                                        {.search_steps = 8, .iterations = 1000, .c0 = 1e-2, .warm_start = warm});
    double worst = 0;
    for (std::size_t i = 0; i < p.d_2.size(); ++i) {
      CAPTURE(i);
      worst = std::max(worst, out.samples[i].l2 / p.d_2[i] - 1);
      REQUIRE(out.samples[i].success);
      CHECK(out.samples[i].l2 >= p.d_2[i] * (1 - 1e-4));  // never below the true minimum
      CHECK(out.samples[i].l2 <= p.d_2[i] * 1.01);
      CHECK(out.samples[i].forwards > 0);
    }
    MESSAGE(std::string(warm ? "warm start" : "paper restarts") << ": worst L2 above the minimum by " << 100 * worst << "%");
  }
}

TEST_CASE("targeted cw_l2 on two classes reaches the closed-form distance to the target's side") {
  auto p = make_problem(40, 2);
  const auto out = oa::attacks::cw_l2(*p.model, p.x, oa::test::next_labels(p.labels, 2),
                                      {.search_steps = 8, .iterations = 1000, .c0 = 1e-2, .targeted = true,
                                       .warm_start = true});
  int compared = 0;
  for (std::size_t i = 0; i < p.d_2.size(); ++i) {
    CAPTURE(i);
    REQUIRE(out.samples[i].success);
    CHECK(out.samples[i].l2 >= p.d_2[i] * (1 - 1e-4));
    if (p.d_2[i] >= 0.4) continue;  // the box may bind: the closed form is only a lower bound
    CHECK(out.samples[i].l2 <= p.d_2[i] * 1.01);
    ++compared;
  }
  CHECK(compared >= 5);
}

TEST_CASE("cw_l2 with an unbounded budget breaks every correctly classified sample") {
  auto p = make_problem(8);
  const auto out = oa::attacks::cw_l2(*p.model, p.x, p.labels, {.search_steps = 5, .iterations = 200, .c0 = 1.0});
  for (const auto& r : out.samples) CHECK(r.success);
}

TEST_CASE("cw_l2 failures are reported as failures, never as distance 0") {
  auto p = make_problem(4);
  // One iteration at a tiny constant cannot cross any boundary.
  const auto out = oa::attacks::cw_l2(*p.model, p.x, p.labels, {.search_steps = 1, .iterations = 1, .c0 = 1e-9});
  oa::test::check_all_failed(out, p.x);
}

TEST_CASE("cw_l2 leaves the model's parameters as it found them") {
  auto p = make_problem(2);
  oa::attacks::cw_l2(*p.model, p.x, p.labels, {.search_steps = 1, .iterations = 5});
  for (const auto& t : p.model->parameters()) CHECK(t.requires_grad());
}
