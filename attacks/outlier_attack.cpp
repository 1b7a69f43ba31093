#include "attacks/outlier_attack.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <tuple>

#include "framework/core/error.h"

namespace oa::attacks {

namespace {
// `count` of the positions 0..n-1, drawn without replacement (a partial Fisher-Yates shuffle),
// ascending; all n when count >= n.
std::vector<std::int64_t> draw_positions(std::int64_t n, std::int64_t count, std::mt19937_64& rng) {
  std::vector<std::int64_t> positions(static_cast<std::size_t>(n));
  std::iota(positions.begin(), positions.end(), 0);
  const std::int64_t k = std::min(n, std::max<std::int64_t>(count, 0));
  for (std::int64_t i = 0; i < k; ++i) {
    std::uniform_int_distribution<std::int64_t> pick(i, n - 1);
    std::swap(positions[i], positions[pick(rng)]);
  }
  positions.resize(static_cast<std::size_t>(k));
  std::sort(positions.begin(), positions.end());
  return positions;
}

// How many B models misclassify sample i.
std::int64_t b_wrong_count(const PoolPredictions& pool, std::size_t i) {
  std::int64_t wrong = 0;
  for (const auto& b : pool.b_predictions) wrong += b[i] != pool.labels[i];
  return wrong;
}

// The samples A gets right whose count of wrong B models satisfies `keep(wrong, models)`.
template <class Keep>
std::vector<std::int64_t> a_right_where(const PoolPredictions& pool, Keep keep) {
  check_pool(pool);
  const auto models = static_cast<std::int64_t>(pool.b_predictions.size());
  std::vector<std::int64_t> picked;
  for (std::size_t i = 0; i < pool.labels.size(); ++i)
    if (pool.a_predictions[i] == pool.labels[i] && keep(b_wrong_count(pool, i), models))
      picked.push_back(static_cast<std::int64_t>(i));
  return picked;
}

void add_pool_rows(const std::string& split, const std::string& suffix, const PoolPredictions& pool,
                   const PoolSelection& sets, std::vector<SelectionRow>& rows) {
  const auto row = [&](std::int64_t index, const char* set, std::int64_t partner) {
    rows.push_back({split, index, pool.labels[index], pool.a_margins[index], set + suffix, partner});
  };
  for (std::size_t k = 0; k < sets.outliers.size(); ++k) row(sets.outliers[k], "S", sets.matched[k]);
  for (std::int64_t index : sets.random) row(index, "R", -1);
  for (std::size_t k = 0; k < sets.outliers.size(); ++k)
    if (sets.matched[k] >= 0) row(sets.matched[k], "M", sets.outliers[k]);
}
}  // namespace

ModelAnswers predictions_and_margins(const Tensor& logits, const Tensor& labels) {
  check_rank(logits, 2, "predictions_and_margins", "logits");
  check_dtype(labels, DType::Int64, "predictions_and_margins", "labels");
  OA_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0) && logits.size(1) >= 2,
           "predictions_and_margins: logits {} (two classes or more) and labels {} do not match",
           shape_str(logits.shape()), shape_str(labels.shape()));
  const std::int64_t rows = logits.size(0), classes = logits.size(1);
  const auto z = logits.to_vector<double>();
  const auto y = labels.to_vector<std::int64_t>();
  ModelAnswers answers;
  for (std::int64_t i = 0; i < rows; ++i) {
    OA_CHECK(y[i] >= 0 && y[i] < classes, "predictions_and_margins: label {} of row {} outside [0, {})", y[i], i,
             classes);
    const auto row = z.begin() + i * classes;
    answers.predictions.push_back(std::max_element(row, row + classes) - row);
    double best_other = -std::numeric_limits<double>::infinity();
    for (std::int64_t j = 0; j < classes; ++j)
      if (j != y[i]) best_other = std::max(best_other, row[j]);
    answers.margins.push_back(row[y[i]] - best_other);
  }
  return answers;
}

void check_pool(const PoolPredictions& pool) {
  const std::size_t n = pool.labels.size();
  OA_CHECK(pool.a_predictions.size() == n && pool.a_margins.size() == n,
           "outlier selection: {} labels but {} predictions and {} margins of A", n, pool.a_predictions.size(),
           pool.a_margins.size());
  OA_CHECK(!pool.b_predictions.empty(), "outlier selection: no B model");
  for (std::size_t b = 0; b < pool.b_predictions.size(); ++b)
    OA_CHECK(pool.b_predictions[b].size() == n, "outlier selection: B model {} has {} predictions for {} samples", b,
             pool.b_predictions[b].size(), n);
}

std::vector<std::int64_t> select_outliers(const PoolPredictions& pool) {
  return a_right_where(pool, [](std::int64_t wrong, std::int64_t models) { return 2 * wrong > models; });
}

std::vector<std::int64_t> control_candidates(const PoolPredictions& pool) {
  return a_right_where(pool, [](std::int64_t wrong, std::int64_t models) { return 2 * wrong < models; });
}

std::vector<std::int64_t> random_controls(const std::vector<std::int64_t>& candidates, std::int64_t count,
                                          std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> drawn;
  for (std::int64_t position : draw_positions(static_cast<std::int64_t>(candidates.size()), count, rng))
    drawn.push_back(candidates[position]);
  std::sort(drawn.begin(), drawn.end());
  return drawn;
}

std::vector<std::int64_t> matched_controls(const PoolPredictions& pool, const std::vector<std::int64_t>& outliers,
                                           const std::vector<std::int64_t>& candidates) {
  check_pool(pool);
  std::map<std::int64_t, std::vector<std::int64_t>> outliers_of_class, candidates_of_class;
  for (std::int64_t s : outliers) outliers_of_class[pool.labels[s]].push_back(s);
  for (std::int64_t c : candidates) candidates_of_class[pool.labels[c]].push_back(c);
  // Class by class: every (margin difference, outlier, candidate) pair, sorted; the first pair
  // whose outlier and candidate are both free is matched, then the next, and so on. Time and
  // memory grow as |S_class| |C_class| (a million pairs per class is 24 MB).
  std::map<std::int64_t, std::int64_t> partner_of;  // outlier -> its matched candidate
  for (const auto& [label, class_outliers] : outliers_of_class) {
    std::vector<std::tuple<double, std::int64_t, std::int64_t>> pairs;
    for (std::int64_t s : class_outliers)
      for (std::int64_t c : candidates_of_class[label])
        pairs.emplace_back(std::abs(pool.a_margins[s] - pool.a_margins[c]), s, c);
    std::sort(pairs.begin(), pairs.end());
    std::set<std::int64_t> taken;
    for (const auto& [difference, s, c] : pairs)
      if (!partner_of.count(s) && !taken.count(c)) {
        partner_of[s] = c;
        taken.insert(c);
      }
  }
  std::vector<std::int64_t> matched;
  for (std::int64_t s : outliers) matched.push_back(partner_of.count(s) ? partner_of[s] : -1);
  return matched;
}

PoolSelection select_pool(const PoolPredictions& pool, std::int64_t random_count, std::uint64_t seed) {
  PoolSelection sets;
  sets.outliers = select_outliers(pool);
  const auto candidates = control_candidates(pool);
  sets.candidates = static_cast<std::int64_t>(candidates.size());
  sets.ties = static_cast<std::int64_t>(
      a_right_where(pool, [](std::int64_t wrong, std::int64_t models) { return 2 * wrong == models; }).size());
  sets.random = random_controls(candidates, random_count < 0 ? static_cast<std::int64_t>(sets.outliers.size())
                                                             : random_count, seed);
  sets.matched = matched_controls(pool, sets.outliers, candidates);
  for (std::size_t k = 0; k < sets.outliers.size(); ++k)
    if (sets.matched[k] < 0) sets.unmatched.push_back(sets.outliers[k]);
  return sets;
}

std::vector<SelectionRow> selection_rows(const PoolPredictions& train, const PoolSelection& train_sets,
                                         const PoolPredictions& test, const PoolSelection& test_sets) {
  check_pool(train);
  check_pool(test);
  std::vector<SelectionRow> rows;
  add_pool_rows("train", "", train, train_sets, rows);
  add_pool_rows("test", "_test", test, test_sets, rows);
  return rows;
}

std::vector<SelectionRow> cap_per_set(const std::vector<SelectionRow>& rows, std::int64_t max_per_set,
                                      std::uint64_t seed) {
  OA_CHECK(max_per_set >= 0, "cap_per_set: max_per_set must be >= 0, got {}", max_per_set);
  // The row positions of each set, sets in the order they first appear.
  std::vector<std::string> set_order;
  std::map<std::string, std::vector<std::size_t>> positions_of;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (!positions_of.count(rows[r].set)) set_order.push_back(rows[r].set);
    positions_of[rows[r].set].push_back(r);
  }
  std::mt19937_64 rng(seed);
  std::vector<bool> keep(rows.size(), false);
  std::set<std::pair<std::string, std::int64_t>> kept_outliers;  // (split, index) of the kept S rows
  for (const auto& set : set_order) {
    if (set.front() == 'M') continue;  // M follows its S partners below
    const auto& positions = positions_of[set];
    for (std::int64_t p : draw_positions(static_cast<std::int64_t>(positions.size()), max_per_set, rng)) {
      keep[positions[p]] = true;
      if (set.front() == 'S') kept_outliers.insert({rows[positions[p]].split, rows[positions[p]].index});
    }
  }
  std::vector<SelectionRow> capped;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const bool follows_partner = rows[r].set.front() == 'M' && kept_outliers.count({rows[r].split, rows[r].partner});
    if (keep[r] || follows_partner) capped.push_back(rows[r]);
  }
  return capped;
}

}  // namespace oa::attacks
