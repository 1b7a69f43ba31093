// The query model: exact per-sample counts, refusal past the budget, no tape, and label-only
// mode without scores; and, for every black-box attack, that the rows the model really ran
// equal the queries reported, that no sample passes its budget, and that every success the
// attack reports survives the independent re-check (verify()).
#include <doctest/doctest.h>

#include <concepts>
#include <functional>
#include <string>
#include <type_traits>

#include "attacks/noise.h"
#include "attacks/query_model.h"
#include "attacks/rays.h"
#include "attacks/square.h"
#include "framework/data/dataset.h"
#include "tests/attacks/test_models.h"

using oa::Tensor;
using oa::attacks::LabelQueryModel;
using oa::attacks::ScoreQueryModel;

// Label-only mode never exposes scores, checked at compile time: a LabelQueryModel has no
// scores() to call (only ScoreQueryModel has one), and neither can be copied (a copy would
// start with fresh counts).
template <class M>
concept GivesScores = requires(M& m, const Tensor& t, const std::vector<std::int64_t>& rows) { m.scores(t, rows); };
static_assert(!GivesScores<LabelQueryModel>);
static_assert(GivesScores<ScoreQueryModel>);
static_assert(!std::is_copy_constructible_v<LabelQueryModel> && !std::is_copy_assignable_v<LabelQueryModel>);
static_assert(!std::is_copy_constructible_v<ScoreQueryModel>);

TEST_CASE("query model: counts each row against its sample, refuses past the budget, records no tape") {
  auto p = oa::test::make_two_class_problem(3);
  auto counter = std::make_shared<oa::test::RowCounter>(p.model);
  counter->train();  // the query model must switch it to eval
  ScoreQueryModel model(*counter, 3, 4);
  const Tensor x = oa::data::take_rows(p.x, {0, 0, 2});
  const Tensor scores = model.scores(x, {0, 0, 2});
  CHECK_FALSE(counter->training());
  CHECK(scores.shape() == oa::Shape{3, 2});
  CHECK_FALSE(scores.requires_grad());  // the parameters require gradients, yet no tape
  CHECK(scores.grad_fn() == nullptr);
  CHECK(model.queries(0) == 2);
  CHECK(model.queries(1) == 0);
  CHECK(model.queries(2) == 1);
  CHECK(model.remaining(0) == 2);
  CHECK(counter->rows == 3);
  // The labels are the arg max of the scores, and cost the same.
  const auto labels = model.labels(x, {0, 0, 2});
  const auto z = scores.to_vector<double>();
  for (int b = 0; b < 3; ++b) CHECK(labels[b] == (z[2 * b + 1] > z[2 * b] ? 1 : 0));
  CHECK(model.queries(0) == 4);
  CHECK(model.total_queries() == 6);
  // Sample 0 has spent its budget: a batch holding it is refused whole, before it runs.
  CHECK_THROWS_WITH_AS(model.labels(oa::data::take_rows(p.x, {1, 0}), {1, 0}),
                       doctest::Contains("sample 0 asks 1 more queries with 4 of its budget of 4 spent"), oa::Error);
  CHECK(model.queries(1) == 0);
  CHECK(counter->rows == 6);
  CHECK_THROWS_AS(model.labels(oa::data::take_rows(p.x, {1}), {3}), oa::Error);      // no sample 3
  CHECK_THROWS_AS(model.labels(oa::data::take_rows(p.x, {1}), {1, 2}), oa::Error);   // ids do not match rows
  CHECK_THROWS_AS([&] { ScoreQueryModel zero_budget(*counter, 3, 0); }(), oa::Error);
}

namespace {

// Runs `attack` through a query model of budget `budget` on a row-counting model, then
// checks: rows run == queries reported == queries counted, none above the budget, every
// reported success confirmed by verify() and every reported failure left as one.
void check_counts_and_verification(const std::string& name, std::int64_t budget,
                                   const std::function<oa::attacks::AttackOutput(ScoreQueryModel&,
                                                                                 oa::test::LinearProblem&)>& attack) {
  CAPTURE(name);
  auto p = oa::test::make_linear_problem({.samples = 6, .classes = 3, .seed = 3, .side = 6});
  auto counter = std::make_shared<oa::test::RowCounter>(p.model);
  ScoreQueryModel model(*counter, 6, budget);
  auto out = attack(model, p);
  std::int64_t reported = 0;
  int successes = 0;
  for (std::int64_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    reported += out.samples[i].queries;
    CHECK(out.samples[i].queries == model.queries(i));
    CHECK(out.samples[i].queries <= budget);
    CHECK(out.samples[i].forwards == out.samples[i].queries);
    successes += out.samples[i].success;
  }
  CHECK(reported == counter->rows);
  CHECK(reported == model.total_queries());
  const auto claimed = out.samples;
  oa::attacks::verify(*counter, p.x, p.labels, false, out);
  for (std::int64_t i = 0; i < 6; ++i) CHECK(out.samples[i].success == claimed[i].success);
  MESSAGE(name << ": " << successes << " of 6 broken, " << reported << " queries");
}

}  // namespace

TEST_CASE("black-box attacks: queries counted exactly, budget kept, successes re-verified") {
  using oa::attacks::Norm;
  // Budgets and radii where some samples break and some do not, so both paths are counted.
  check_counts_and_verification("square-linf", 60, [](ScoreQueryModel& m, oa::test::LinearProblem& p) {
    return oa::attacks::square(m, p.x, p.labels, {.norm = Norm::Linf, .eps = 0.1, .seed = 1});
  });
  check_counts_and_verification("square-l2", 60, [](ScoreQueryModel& m, oa::test::LinearProblem& p) {
    return oa::attacks::square(m, p.x, p.labels, {.norm = Norm::L2, .eps = 0.9, .seed = 1});
  });
  check_counts_and_verification("rays", 150, [](ScoreQueryModel& m, oa::test::LinearProblem& p) {
    return oa::attacks::rays(m, p.x, p.labels, {});
  });
  check_counts_and_verification("rays-eps", 150, [](ScoreQueryModel& m, oa::test::LinearProblem& p) {
    return oa::attacks::rays(m, p.x, p.labels, {.eps = 0.18});
  });
  check_counts_and_verification("noise-linf", 30, [](ScoreQueryModel& m, oa::test::LinearProblem& p) {
    return oa::attacks::random_noise(m, p.x, p.labels, {.norm = Norm::Linf, .eps = 0.2, .draws = 50, .seed = 1});
  });
  check_counts_and_verification("noise-l2", 30, [](ScoreQueryModel& m, oa::test::LinearProblem& p) {
    return oa::attacks::random_noise(m, p.x, p.labels, {.norm = Norm::L2, .eps = 1.5, .draws = 50, .seed = 1});
  });
}
