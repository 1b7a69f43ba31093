// Square Attack on two-class linear classifiers with closed-form minimal distances
// (test_models.h): no point of a ball of radius below the minimum is adversarial, so Square
// must fail at 0.95x whatever it does; just above it, it must find one within a modest budget.
//
// Linf: every Square candidate is a vertex of the ball (pixels at +-eps), and on a linear model
// the only adversarial vertices at 1.05x the minimum are (nearly) the optimal sign pattern;
// with 1x1 windows and the redraw of unchanged proposals, each query flips one random pixel
// and keeps it if the margin drops: a coordinate search that reaches that vertex.
// L2: the perturbation is a sum of pseudo-Gaussian bumps, while the optimal direction of a
// random linear model is a dense random vector, so Square gets only so close to it: the L2
// test asks for success at 1.5x the minimum (see there).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "attacks/square.h"
#include "framework/data/dataset.h"
#include "tests/attacks/test_models.h"

using oa::Tensor;
using oa::attacks::Norm;

namespace {

struct Trial {
  int broken = 0;
  std::vector<std::int64_t> queries;  // of the successes
};

// Square on each sample alone at radius factor * d (its minimal distance in the norm),
// budget queries, verified; no success may lie below the minimal distance.
Trial run_square(oa::test::LinearProblem& p, Norm norm, double factor, std::int64_t budget) {
  const auto& d = norm == Norm::Linf ? p.d_inf : p.d_2;
  Trial trial;
  for (std::size_t i = 0; i < d.size(); ++i) {
    CAPTURE(i);
    const std::vector<std::int64_t> row{static_cast<std::int64_t>(i)};
    const Tensor x = oa::data::take_rows(p.x, row), y = oa::data::take_rows(p.labels, row);
    oa::attacks::ScoreQueryModel model(*p.model, 1, budget);
    auto out = oa::attacks::square(model, x, y, {.norm = norm, .eps = factor * d[i], .seed = 17 + i});
    const bool claimed = out.samples[0].success;
    oa::attacks::verify(*p.model, x, y, false, out);
    CHECK(out.samples[0].success == claimed);
    if (!out.samples[0].success) {
      CHECK(out.samples[0].queries == budget);  // a failure spends the whole budget
      continue;
    }
    const double dist = norm == Norm::Linf ? out.samples[0].linf : out.samples[0].l2;
    CHECK(dist >= d[i] * (1 - 1e-5));
    CHECK(dist <= factor * d[i] * (1 + 1e-5));
    trial.broken += 1;
    trial.queries.push_back(out.samples[0].queries);
  }
  std::sort(trial.queries.begin(), trial.queries.end());
  return trial;
}

// Square breaks every sample at `above` times its minimal distance within 1000 queries, and
// none at 0.95 times (within 300).
void check_threshold(oa::test::LinearProblem& p, Norm norm, double above) {
  const Trial trial = run_square(p, norm, above, 1000);
  CHECK(trial.broken == static_cast<int>(p.d_2.size()));
  if (!trial.queries.empty())
    MESSAGE("square " << std::string(norm == Norm::Linf ? "linf" : "l2") << " at " << above << "x: median "
                      << trial.queries[trial.queries.size() / 2] << ", max " << trial.queries.back()
                      << " queries (budget 1000)");
  CHECK(run_square(p, norm, 0.95, 300).broken == 0);
}

}  // namespace

TEST_CASE("square linf: breaks every sample at 1.05x the minimal Linf distance, none at 0.95x") {
  auto p = oa::test::make_two_class_problem(10);
  for (double d : p.d_inf) REQUIRE(d < 0.4);  // inputs in [0.45, 0.55]: the box does not bind
  check_threshold(p, Norm::Linf, 1.05);
}

TEST_CASE("square l2: breaks every sample at 1.5x the minimal L2 distance, none at 0.95x") {
  // 1.5x, not 1.05x: measured on these 8 samples (6x6 inputs), Square-L2 breaks none at 1.05x
  // or 1.2x even with 5000 queries, 4 of 8 at 1.3x (1000 queries), all from 1.4x on (median
  // 330 queries at 1.4x, 163 at 1.5x). Its bumps do not line up with a dense random direction.
  auto p = oa::test::make_linear_problem({.samples = 8, .classes = 2, .seed = 5, .weight_std = 3.0, .x_lo = 0.45,
                                          .x_hi = 0.55, .side = 6});
  for (double d : p.d_2) REQUIRE(d < 0.3);
  check_threshold(p, Norm::L2, 1.5);
}

TEST_CASE("square: the same seed gives the same result, another seed another") {
  auto p = oa::test::make_two_class_problem(4);
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    CAPTURE(norm == Norm::Linf);
    auto q = norm == Norm::Linf ? p : oa::test::make_linear_problem({.samples = 4, .classes = 2, .seed = 5, .side = 6});
    auto run = [&](std::uint64_t seed) {
      oa::attacks::ScoreQueryModel model(*q.model, 4, 200);
      const auto& d = norm == Norm::Linf ? q.d_inf : q.d_2;
      const double eps = 2 * *std::max_element(d.begin(), d.end());  // successes, by different paths
      return oa::attacks::square(model, q.x, q.labels, {.norm = norm, .eps = eps, .seed = seed});
    };
    const auto a = run(3), b = run(3), c = run(4);
    CHECK(a.adversarial.to_vector<float>() == b.adversarial.to_vector<float>());
    for (int i = 0; i < 4; ++i) CHECK(a.samples[i].queries == b.samples[i].queries);
    for (int i = 0; i < 4; ++i) CHECK(a.samples[i].success);
    CHECK(a.adversarial.to_vector<float>() != c.adversarial.to_vector<float>());
  }
}
