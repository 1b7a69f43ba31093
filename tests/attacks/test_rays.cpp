// RayS on two-class linear classifiers with closed-form minimal Linf distances
// (test_models.h). On a linear model the boundary distance along a sign direction v is
// margin / (u . v) (u = w_y - w_other), smallest for v = -sign(u); the block search flips
// single coordinates at its finest level and keeps every flip that helps, so it reaches that
// direction, and the binary search then pins the distance to within its tolerance.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "attacks/rays.h"
#include "framework/data/dataset.h"
#include "tests/attacks/test_models.h"

using oa::Tensor;

TEST_CASE("rays: never below the minimal Linf distance, and within 1% of it") {
  auto p = oa::test::make_two_class_problem(10);
  for (double d : p.d_inf) REQUIRE(d < 0.4);  // inputs in [0.45, 0.55]: the box does not bind
  oa::attacks::LabelQueryModel model(*p.model, 10, 1000);
  auto out = oa::attacks::rays(model, p.x, p.labels, {});
  oa::attacks::verify(*p.model, p.x, p.labels, false, out);
  double worst = 0;
  for (std::size_t i = 0; i < p.d_inf.size(); ++i) {
    CAPTURE(i);
    REQUIRE(out.samples[i].success);
    CHECK(out.samples[i].queries == 1000);  // the minimal-distance mode spends the whole budget
    CHECK(out.samples[i].linf >= p.d_inf[i] * (1 - 1e-5));
    CHECK(out.samples[i].linf <= p.d_inf[i] * 1.01);
    worst = std::max(worst, out.samples[i].linf / p.d_inf[i] - 1);
  }
  MESSAGE("rays, 1000 queries: worst Linf above the minimum by " << 100 * worst << "%");
}

TEST_CASE("rays with eps: stops at eps = 1.05x the minimum, fails at 0.95x") {
  auto p = oa::test::make_two_class_problem(6);
  std::vector<std::int64_t> queries;
  for (std::size_t i = 0; i < p.d_inf.size(); ++i) {
    CAPTURE(i);
    const std::vector<std::int64_t> row{static_cast<std::int64_t>(i)};
    const Tensor x = oa::data::take_rows(p.x, row), y = oa::data::take_rows(p.labels, row);
    for (double factor : {1.05, 0.95}) {
      oa::attacks::LabelQueryModel model(*p.model, 1, 1000);
      auto out = oa::attacks::rays(model, x, y, {.eps = factor * p.d_inf[i]});
      const bool claimed = out.samples[0].success;
      oa::attacks::verify(*p.model, x, y, false, out);
      CHECK(out.samples[0].success == claimed);
      CHECK(out.samples[0].success == (factor > 1));
      if (factor > 1) {
        CHECK(out.samples[0].linf <= factor * p.d_inf[i] + 1e-6);
        CHECK(out.samples[0].queries < 1000);
        queries.push_back(out.samples[0].queries);
      } else {
        CHECK(out.samples[0].queries == 1000);
      }
    }
  }
  std::sort(queries.begin(), queries.end());
  MESSAGE("rays at eps = 1.05x: median " << queries[queries.size() / 2] << ", max " << queries.back() << " queries");
}

TEST_CASE("rays: deterministic, and a budget cut short still returns adversarial examples") {
  auto p = oa::test::make_two_class_problem(4);
  auto run = [&](std::int64_t budget) {
    oa::attacks::LabelQueryModel model(*p.model, 4, budget);
    auto out = oa::attacks::rays(model, p.x, p.labels, {});
    oa::attacks::verify(*p.model, p.x, p.labels, false, out);
    return out;
  };
  const auto a = run(300), b = run(300), short_run = run(20);
  CHECK(a.adversarial.to_vector<float>() == b.adversarial.to_vector<float>());
  for (int i = 0; i < 4; ++i) {
    CHECK(short_run.samples[i].queries == 20);
    if (short_run.samples[i].success) CHECK(short_run.samples[i].linf >= a.samples[i].linf * (1 - 1e-5));
  }
}
