// PGD on two-class linear classifiers, where the exact minimal distances d_inf and d_2 are
// known (test_models.h).
// No point inside a ball of radius below d is adversarial, so PGD must fail there whatever it
// does; slightly above d, the (sign-)gradient points straight at the boundary and PGD succeeds.
#include <doctest/doctest.h>

#include <cmath>

#include "attacks/pgd.h"
#include "framework/data/dataset.h"
#include "tests/attacks/test_models.h"

using oa::Tensor;
using oa::attacks::Norm;

namespace {

// Runs PGD with a per-sample radius factor * d; returns how many samples were broken.
int broken(oa::test::LinearProblem& p, Norm norm, double factor) {
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
  auto p = oa::test::make_two_class_problem(10);
  for (double d : p.d_inf) REQUIRE(d < 0.4);  // the box [0, 1] does not bind
  for (Norm norm : {Norm::Linf, Norm::L2}) {
    CAPTURE(norm == Norm::Linf);
    CHECK(broken(p, norm, 0.98) == 0);
    CHECK(broken(p, norm, 1.02) == 10);
  }
}

TEST_CASE("pgd: success rate does not decrease with eps") {
  auto p = oa::test::make_two_class_problem(10);
  int previous = 0;
  for (double factor : {0.5, 0.9, 1.01, 1.5, 3.0}) {
    const int now = broken(p, Norm::Linf, factor);
    CHECK(now >= previous);
    previous = now;
  }
  CHECK(previous == 10);
}

TEST_CASE("pgd_bisect: its upper bound is the exact distance up to the bisection resolution") {
  auto p = oa::test::make_two_class_problem(10);
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

TEST_CASE("pgd_training_examples: every step is taken and the last iterate is kept, adversarial or not") {
  // Two classes, linear: the loss rises along one fixed direction, so from any start in the
  // Linf ball 2.5 eps of sign steps reach the vertex x + eps * sign(w_other - w_y) (exactly,
  // since the box does not bind), also at a radius far above the minimal distance, where the
  // attack's pgd() would stop at its first adversarial iterate.
  auto p = oa::test::make_two_class_problem(6);
  auto& fc = dynamic_cast<oa::nn::Linear&>(p.model->child("1"));
  const auto w = fc.weight.to_vector<double>(), x = p.x.to_vector<double>();
  const auto y = p.labels.to_vector<std::int64_t>();
  const double eps = 0.3;  // above every d_inf (< 0.05 here), below the box's 0.45
  for (bool random_start : {false, true}) {
    CAPTURE(random_start);
    const Tensor adv = oa::attacks::pgd_training_examples(
        *p.model, p.x, p.labels, {.eps = eps, .iterations = 10, .random_start = random_start, .seed = 3});
    const auto a = adv.to_vector<double>();
    for (std::size_t i = 0; i < y.size(); ++i) {
      const std::size_t other = 1 - static_cast<std::size_t>(y[i]);
      for (std::size_t f = 0; f < 16; ++f) {
        const double toward = w[other * 16 + f] - w[y[i] * 16 + f];
        CHECK(a[i * 16 + f] == doctest::Approx(x[i * 16 + f] + (toward > 0 ? eps : -eps)).epsilon(1e-6));
      }
    }
  }
  const auto early = oa::attacks::pgd(*p.model, p.x, p.labels, {.eps = eps, .iterations = 10, .random_start = false});
  for (const auto& s : early.samples) CHECK(s.linf < eps * 0.99);  // pgd() stops at the boundary
  CHECK_THROWS_WITH_AS(oa::attacks::pgd_training_examples(*p.model, p.x, p.labels, {.eps = eps, .targeted = true}),
                       doctest::Contains("untargeted"), oa::Error);
}

TEST_CASE("pgd_training_examples: a slice of a batch (first_row) gets the random starts its rows get in the batch") {
  // One tiny step: the examples are their random starts, nearly. A rank making the examples of
  // its slice of the batch must make those of the whole batch's rows.
  auto p = oa::test::make_two_class_problem(6);
  const oa::attacks::PgdOptions whole_batch{.eps = 0.3, .step = 1e-3, .iterations = 1, .random_start = true, .seed = 5};
  const auto whole = oa::attacks::pgd_training_examples(*p.model, p.x, p.labels, whole_batch).to_vector<double>();
  const std::vector<std::int64_t> rows{2, 3, 4, 5};
  const Tensor x = oa::data::take_rows(p.x, rows), labels = oa::data::take_rows(p.labels, rows);
  oa::attacks::PgdOptions slice_of_it = whole_batch;
  slice_of_it.first_row = 2;
  const auto slice = oa::attacks::pgd_training_examples(*p.model, x, labels, slice_of_it).to_vector<double>();
  const std::vector<double> expected(whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 6 * 2), whole.end());
  CHECK(slice == expected);
  // Without first_row the slice draws the batch's first starts: the check above can fail.
  CHECK(oa::attacks::pgd_training_examples(*p.model, x, labels, whole_batch).to_vector<double>() != expected);
  slice_of_it.first_row = -1;
  CHECK_THROWS_WITH_AS(oa::attacks::pgd_training_examples(*p.model, x, labels, slice_of_it),
                       doctest::Contains("first row -1"), oa::Error);
}
