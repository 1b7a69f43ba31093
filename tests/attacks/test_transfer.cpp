// The transfer baseline on two-class linear classifiers: with the target itself as the
// surrogate, PGD's direction is the best one, so the example transfers just above the minimal
// distance and never below it; with a surrogate whose classes are swapped, PGD pushes away
// from the target's boundary and nothing transfers. Queries: one, plus the line search.
#include <doctest/doctest.h>

#include <vector>

#include "attacks/transfer.h"
#include "framework/data/dataset.h"
#include "tests/attacks/test_models.h"

using oa::attacks::Norm;

TEST_CASE("transfer: the target as its own surrogate breaks just above the minimal distance, never below") {
  auto p = oa::test::make_two_class_problem(8);
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    CAPTURE(norm == Norm::Linf);
    const auto& d = norm == Norm::Linf ? p.d_inf : p.d_2;
    for (double factor : {0.95, 1.05}) {
      CAPTURE(factor);
      for (std::size_t i = 0; i < d.size(); ++i) {
        CAPTURE(i);
        const std::vector<std::int64_t> row{static_cast<std::int64_t>(i)};
        const auto x = oa::data::take_rows(p.x, row), y = oa::data::take_rows(p.labels, row);
        oa::attacks::LabelQueryModel target(*p.model, 1, 100);
        auto out = oa::attacks::transfer(target, *p.model, x, y,
                                         {.norm = norm, .eps = factor * d[i], .iterations = 100, .line_search = 8});
        const bool claimed = out.samples[0].success;
        oa::attacks::verify(*p.model, x, y, false, out);
        CHECK(out.samples[0].success == claimed);
        CHECK(target.queries(0) == out.samples[0].queries);
        if (factor < 1) {
          CHECK_FALSE(out.samples[0].success);
          CHECK(out.samples[0].queries <= 1);
          continue;
        }
        REQUIRE(out.samples[0].success);
        CHECK(out.samples[0].queries == 9);  // the edge of the ball, then 8 bisection steps
        const double dist = norm == Norm::Linf ? out.samples[0].linf : out.samples[0].l2;
        CHECK(dist >= d[i] * (1 - 1e-5));
        CHECK(dist <= factor * d[i] * (1 + 1e-5));
      }
    }
  }
}

TEST_CASE("transfer: no query without a direction from the surrogate; the budget caps the line search") {
  auto p = oa::test::make_two_class_problem(6);
  {
    // Below the minimal distance PGD fails on the surrogate (the target itself): nothing to send.
    oa::attacks::LabelQueryModel target(*p.model, 6, 20);
    auto out = oa::attacks::transfer(target, *p.model, p.x, p.labels, {.norm = Norm::L2, .eps = 0.5 * p.d_2[0]});
    for (int i = 0; i < 6; ++i) {
      CAPTURE(i);
      if (p.d_2[i] <= 0.5 * p.d_2[0]) continue;
      CHECK_FALSE(out.samples[i].success);
      CHECK(out.samples[i].queries == 0);
    }
  }
  // A budget of 4: the edge of the ball and 3 of the 10 bisection steps.
  oa::attacks::LabelQueryModel target(*p.model, 6, 4);
  double largest = 0;
  for (double d : p.d_inf) largest = std::max(largest, d);
  auto out = oa::attacks::transfer(target, *p.model, p.x, p.labels,
                                   {.norm = Norm::Linf, .eps = 2 * largest, .iterations = 100, .line_search = 10});
  oa::attacks::verify(*p.model, p.x, p.labels, false, out);
  for (int i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(out.samples[i].success);
    CHECK(out.samples[i].queries == 4);
    CHECK(target.queries(i) == 4);
    CHECK(out.samples[i].linf >= p.d_inf[i] * (1 - 1e-5));
  }
}
