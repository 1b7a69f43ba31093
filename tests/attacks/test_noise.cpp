// The random-noise baseline on two-class linear classifiers: noise cannot beat the minimal
// distance (no point of a smaller ball is adversarial), and at several times the minimum some
// draws cross the boundary; the queries are the draws spent.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "attacks/noise.h"
#include "framework/data/dataset.h"
#include "tests/attacks/test_models.h"

using oa::Tensor;
using oa::attacks::Norm;

TEST_CASE("random noise: never succeeds below the minimal distance; succeeds well above it") {
  auto p = oa::test::make_two_class_problem(10);
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    CAPTURE(norm == Norm::Linf);
    const auto& d = norm == Norm::Linf ? p.d_inf : p.d_2;
    for (double factor : {0.95, 4.0}) {
      CAPTURE(factor);
      int broken = 0;
      for (std::size_t i = 0; i < d.size(); ++i) {
        const std::vector<std::int64_t> row{static_cast<std::int64_t>(i)};
        const Tensor x = oa::data::take_rows(p.x, row), y = oa::data::take_rows(p.labels, row);
        oa::attacks::LabelQueryModel model(*p.model, 1, 100);
        auto out = oa::attacks::random_noise(model, x, y, {.norm = norm, .eps = factor * d[i], .draws = 100, .seed = i});
        const bool claimed = out.samples[0].success;
        oa::attacks::verify(*p.model, x, y, false, out);
        CHECK(out.samples[0].success == claimed);
        if (!out.samples[0].success) {
          CHECK(out.samples[0].queries == 100);
          continue;
        }
        broken += 1;
        const double dist = norm == Norm::Linf ? out.samples[0].linf : out.samples[0].l2;
        CHECK(dist >= d[i] * (1 - 1e-5));
        CHECK(dist <= factor * d[i] * (1 + 1e-5));
      }
      MESSAGE(std::string(norm == Norm::Linf ? "linf" : "l2") << " noise at " << factor << "x: " << broken << " of 10 broken");
      if (factor < 1)
        CHECK(broken == 0);
      else
        CHECK(broken > 0);
    }
  }
}

TEST_CASE("random noise: the same seed gives the same draws") {
  auto p = oa::test::make_two_class_problem(6);
  auto run = [&](std::uint64_t seed) {
    oa::attacks::LabelQueryModel model(*p.model, 6, 50);
    return oa::attacks::random_noise(model, p.x, p.labels, {.norm = Norm::L2, .eps = 3 * p.d_2[0], .seed = seed});
  };
  const auto a = run(1), b = run(1);
  CHECK(a.adversarial.to_vector<float>() == b.adversarial.to_vector<float>());
  for (int i = 0; i < 6; ++i) CHECK(a.samples[i].queries == b.samples[i].queries);
}
