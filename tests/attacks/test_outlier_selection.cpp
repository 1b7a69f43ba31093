// The OutlierAttack's selection (attacks/outlier_attack.h) on hand-built predictions with known
// answers, and on a constructed pool where outliers have low margins (as pruned models' errors do).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "attacks/outlier_attack.h"
#include "framework/core/error.h"

using oa::attacks::PoolPredictions;

namespace {

// Ten samples of two classes; one B model.
//   sample: 0    1    2     3    4    5    6    7    8    9
//   label:  0    0    0     1    1    1    0    1    0    1
//   A:      0    0    1     1    1    1    0    0    0    1     (2 and 7 wrong)
//   margin: 0.5  2.0  -0.3  1.0  1.1  3.0  0.6  -1   5.0  0.2
//   B:      1    0    1     0    1    1    0    0    0    1     (0 and 3 wrong where A is right)
PoolPredictions hand_built_pool() {
  return {{0, 0, 0, 1, 1, 1, 0, 1, 0, 1},
          {0, 0, 1, 1, 1, 1, 0, 0, 0, 1},
          {0.5, 2.0, -0.3, 1.0, 1.1, 3.0, 0.6, -1.0, 5.0, 0.2},
          {{1, 0, 1, 0, 1, 1, 0, 0, 0, 1}}};
}

// A pool of n samples of three classes, A always right, margins spread over [0, 5]; B misses a
// sample with probability exp(-3 margin), so the outliers have low margins.
PoolPredictions low_margin_pool(std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  PoolPredictions pool;
  pool.b_predictions.resize(1);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t label = i % 3;
    const double margin = 5.0 * uniform(rng);
    pool.labels.push_back(label);
    pool.a_predictions.push_back(label);
    pool.a_margins.push_back(margin);
    pool.b_predictions[0].push_back(uniform(rng) < std::exp(-3.0 * margin) ? (label + 1) % 3 : label);
  }
  return pool;
}

double mean_absolute_margin_gap(const PoolPredictions& pool, const std::vector<std::int64_t>& a,
                                const std::vector<std::int64_t>& b) {
  double total = 0;
  for (std::size_t k = 0; k < a.size(); ++k) total += std::abs(pool.a_margins[a[k]] - pool.a_margins[b[k]]);
  return total / static_cast<double>(a.size());
}

}  // namespace

TEST_CASE("outlier selection: S, the candidates, R and M on hand-built predictions") {
  const auto pool = hand_built_pool();
  CHECK(oa::attacks::select_outliers(pool) == std::vector<std::int64_t>{0, 3});
  const auto candidates = oa::attacks::control_candidates(pool);
  CHECK(candidates == std::vector<std::int64_t>{1, 4, 5, 6, 8, 9});
  // Class 0: outlier 0 (margin 0.5) -> 6 (0.6) over 1 (2.0) and 8 (5.0);
  // class 1: outlier 3 (margin 1.0) -> 4 (1.1) over 5 (3.0) and 9 (0.2).
  CHECK(oa::attacks::matched_controls(pool, {0, 3}, candidates) == std::vector<std::int64_t>{6, 4});

  const auto sets = oa::attacks::select_pool(pool, -1, 3);
  CHECK(sets.outliers == std::vector<std::int64_t>{0, 3});
  CHECK(sets.matched == std::vector<std::int64_t>{6, 4});
  CHECK(sets.unmatched.empty());
  CHECK(sets.candidates == 6);
  CHECK(sets.ties == 0);
  REQUIRE(sets.random.size() == 2);  // |S| by default
  CHECK(std::is_sorted(sets.random.begin(), sets.random.end()));
  for (std::int64_t r : sets.random) CHECK(std::count(candidates.begin(), candidates.end(), r) == 1);
  CHECK(oa::attacks::select_pool(pool, 4, 3).random.size() == 4);
  CHECK(oa::attacks::select_pool(pool, 100, 3).random == candidates);  // fewer candidates: all of them
}

TEST_CASE("outlier selection: R is seeded, without replacement, and never holds an outlier") {
  const std::vector<std::int64_t> candidates{2, 5, 7, 11, 13, 17, 19, 23};
  const auto first = oa::attacks::random_controls(candidates, 5, 42);
  CHECK(first == oa::attacks::random_controls(candidates, 5, 42));
  CHECK(std::set<std::int64_t>(first.begin(), first.end()).size() == 5);
  std::set<std::vector<std::int64_t>> draws;
  for (std::uint64_t seed = 0; seed < 20; ++seed) draws.insert(oa::attacks::random_controls(candidates, 5, seed));
  CHECK(draws.size() > 5);  // the seed matters

  const auto pool = low_margin_pool(3000, 1);
  const auto sets = oa::attacks::select_pool(pool, -1, 7);
  const std::set<std::int64_t> outliers(sets.outliers.begin(), sets.outliers.end());
  for (std::int64_t r : sets.random) CHECK(outliers.count(r) == 0);
  for (std::int64_t m : sets.matched) CHECK(outliers.count(m) == 0);
  CHECK(oa::attacks::select_pool(pool, -1, 7).random == sets.random);
}

TEST_CASE("outlier selection: M matches the greedy nearest pair first, within the class, never across") {
  // One class; outliers 0 (margin 1.0) and 1 (2.0); candidates 2 (1.75) and 3 (0.0). The nearest
  // pair is (1, 2) at 0.25, so outlier 1 takes candidate 2 and outlier 0 gets 3 (taking outliers
  // in index order would instead give 0 -> 2 and 1 -> 3).
  PoolPredictions one_class{{0, 0, 0, 0}, {0, 0, 0, 0}, {1.0, 2.0, 1.75, 0.0}, {{1, 1, 0, 0}}};
  CHECK(oa::attacks::matched_controls(one_class, {0, 1}, {2, 3}) == std::vector<std::int64_t>{3, 2});
  // Equal differences (0.25 each way, exact in binary): the smaller outlier index goes first.
  PoolPredictions tie{{0, 0, 0, 0}, {0, 0, 0, 0}, {1.0, 1.5, 1.25, 5.0}, {{1, 1, 0, 0}}};
  CHECK(oa::attacks::matched_controls(tie, {0, 1}, {2, 3}) == std::vector<std::int64_t>{2, 3});

  // Class 0 has three outliers and one candidate; class 1 has plenty of candidates with the
  // very same margins. Two outliers stay unmatched and are reported.
  PoolPredictions short_class{{0, 0, 0, 0, 1, 1, 1},
                              {0, 0, 0, 0, 1, 1, 1},
                              {0.5, 0.75, 1.25, 0.875, 0.5, 0.75, 1.25},
                              {{1, 1, 1, 0, 1, 1, 1}}};
  const auto sets = oa::attacks::select_pool(short_class, -1, 0);
  CHECK(sets.outliers == std::vector<std::int64_t>{0, 1, 2});
  CHECK(sets.candidates == 4);
  CHECK(sets.matched == std::vector<std::int64_t>{-1, 3, -1});  // 1 (0.75) is nearest to 3 (0.875)
  CHECK(sets.unmatched == std::vector<std::int64_t>{0, 2});
}

TEST_CASE("outlier selection: M's margins match S's, R's do not (the matching statistic)") {
  const auto pool = low_margin_pool(6000, 2);
  const auto sets = oa::attacks::select_pool(pool, -1, 5);
  REQUIRE(sets.outliers.size() > 300);  // about 6000 / 15
  CHECK(sets.unmatched.empty());
  std::set<std::int64_t> partners;
  for (std::size_t k = 0; k < sets.outliers.size(); ++k) {
    CHECK(pool.labels[sets.matched[k]] == pool.labels[sets.outliers[k]]);  // same class
    partners.insert(sets.matched[k]);
  }
  CHECK(partners.size() == sets.outliers.size());  // without replacement
  // Outliers concentrate at low margins (mean 1/3); R spreads over [0, 5] (mean gap near 2); M
  // sits next to each outlier, as near as the candidates allow: near 0 they are thinned by the
  // very outliers taken from them, so the gap is not 0.
  const double gap_m = mean_absolute_margin_gap(pool, sets.outliers, sets.matched);
  const double gap_r = mean_absolute_margin_gap(pool, sets.outliers, sets.random);
  MESSAGE("mean |margin_S - margin_M| = " << gap_m << ", mean |margin_S - margin_R| = " << gap_r);
  CHECK(gap_m < 0.1 * gap_r);
  CHECK(gap_r > 1.0);
}

TEST_CASE("outlier selection: a population of B models decides by majority; half is a tie") {
  // Five samples, A right on all. Three B models: wrong on sample 0 by 3, sample 1 by 2 (their
  // wrong answers in different classes), sample 2 by 1, samples 3 and 4 by none.
  PoolPredictions three{{0, 0, 0, 1, 1},
                        {0, 0, 0, 1, 1},
                        {0.1, 0.2, 0.3, 0.4, 0.5},
                        {{1, 1, 1, 1, 1}, {1, 2, 0, 1, 1}, {2, 0, 0, 1, 1}}};
  CHECK(oa::attacks::select_outliers(three) == std::vector<std::int64_t>{0, 1});
  CHECK(oa::attacks::control_candidates(three) == std::vector<std::int64_t>{2, 3, 4});
  // Four B models: sample 1 now has exactly two wrong answers of four: neither S nor a candidate.
  PoolPredictions four = three;
  four.b_predictions.push_back({1, 0, 0, 1, 1});
  CHECK(oa::attacks::select_outliers(four) == std::vector<std::int64_t>{0});
  CHECK(oa::attacks::control_candidates(four) == std::vector<std::int64_t>{2, 3, 4});
  CHECK(oa::attacks::select_pool(four, -1, 0).ties == 1);
}

TEST_CASE("outlier selection: the rows of sets.csv, train and held-out test") {
  const auto train = hand_built_pool();
  // The held-out pool: sample 1 is the only outlier (B right on 0, 2 and 3); 0 and 2 are
  // candidates of its class.
  const PoolPredictions test{{1, 1, 1, 0}, {1, 1, 1, 0}, {0.9, 0.4, 2.5, 1.0}, {{1, 0, 1, 0}}};
  const auto train_sets = oa::attacks::select_pool(train, -1, 3);
  const auto test_sets = oa::attacks::select_pool(test, -1, 3);
  CHECK(test_sets.outliers == std::vector<std::int64_t>{1});
  CHECK(test_sets.matched == std::vector<std::int64_t>{0});
  const auto rows = oa::attacks::selection_rows(train, train_sets, test, test_sets);
  REQUIRE(rows.size() == 2 + 2 + 2 + 1 + 1 + 1);
  CHECK(rows[0].split == "train");
  CHECK(rows[0].set == "S");
  CHECK(rows[0].index == 0);
  CHECK(rows[0].label == 0);
  CHECK(rows[0].a_margin == 0.5);
  CHECK(rows[0].partner == 6);
  CHECK(rows[4].set == "M");
  CHECK(rows[4].index == 6);
  CHECK(rows[4].partner == 0);
  CHECK(rows[6].split == "test");
  CHECK(rows[6].set == "S_test");
  CHECK(rows[6].index == 1);
  CHECK(rows[7].set == "R_test");
  CHECK(rows[8].set == "M_test");
  CHECK(rows[8].index == 0);
  CHECK(rows[8].a_margin == 0.9);
  CHECK(rows[8].partner == 1);
}

TEST_CASE("outlier selection: max_per_set caps every set reproducibly and keeps M with its S partners") {
  const auto train = low_margin_pool(3000, 3), test = low_margin_pool(1500, 4);
  const auto rows = oa::attacks::selection_rows(train, oa::attacks::select_pool(train, -1, 1), test,
                                                oa::attacks::select_pool(test, -1, 1));
  const auto capped = oa::attacks::cap_per_set(rows, 25, 9);
  CHECK(capped == oa::attacks::cap_per_set(rows, 25, 9));
  CHECK(capped != oa::attacks::cap_per_set(rows, 25, 10));
  std::map<std::string, std::int64_t> count;
  std::set<std::pair<std::string, std::int64_t>> kept_outliers, kept_partners;
  for (const auto& row : capped) {
    ++count[row.set];
    if (row.set.front() == 'S') kept_outliers.insert({row.split, row.index});
    if (row.set.front() == 'M') kept_partners.insert({row.split, row.partner});
  }
  for (const char* set : {"S", "R", "M", "S_test", "R_test", "M_test"}) {
    CAPTURE(set);
    CHECK(count[set] == 25);  // every set has more than 25 rows, and no outlier is unmatched here
  }
  CHECK(kept_partners == kept_outliers);  // each kept M row has its S row, and the other way round
  CHECK(oa::attacks::cap_per_set(rows, 1000000, 9) == rows);
}

TEST_CASE("outlier selection: predictions and margins from logits; inputs are checked") {
  const auto logits = oa::Tensor::from_vector<float>({2, 1, 0.5, 0, 3, 1}, {2, 3});
  const auto labels = oa::Tensor::from_vector<std::int64_t>({0, 2}, {2});
  const auto answers = oa::attacks::predictions_and_margins(logits, labels);
  CHECK(answers.predictions == std::vector<std::int64_t>{0, 1});
  CHECK(answers.margins == std::vector<double>{1.0, -2.0});
  CHECK_THROWS_WITH_AS(oa::attacks::predictions_and_margins(logits, oa::Tensor::from_vector<std::int64_t>({0, 3}, {2})),
                       doctest::Contains("label 3 of row 1 outside [0, 3)"), oa::Error);

  PoolPredictions pool = hand_built_pool();
  pool.a_margins.pop_back();
  CHECK_THROWS_WITH_AS(oa::attacks::select_outliers(pool), doctest::Contains("10 labels but 10 predictions and 9"),
                       oa::Error);
  pool = hand_built_pool();
  pool.b_predictions.clear();
  CHECK_THROWS_WITH_AS(oa::attacks::select_outliers(pool), doctest::Contains("no B model"), oa::Error);
}
