// The query model: exact per-sample counts, refusal past the budget, no tape, and label-only
// mode without scores; and, for every black-box attack, that the rows the model really ran
// equal the queries reported, that no sample passes its budget, and that every success the
// attack reports survives the independent re-check (verify()).
#include <doctest/doctest.h>

#include <concepts>
#include <type_traits>

#include "attacks/query_model.h"
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
