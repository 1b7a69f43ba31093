#pragma once
// The OutlierAttack's selection: which samples are outliers, and their controls.
//
// A is the big model, B a compressed rung of it (or a population of several B models). On one
// pool of samples (the training split; the held-out test split is a second pool, selected by the
// same functions):
//   S  outliers: A classifies the sample correctly and B does not. With a population of B, B
//      "does not" when more than half of the B models misclassify it (Hooker et al. 2019 use the
//      modal label of the population; counting wrong answers differs only when those wrong
//      answers are split over several classes).
//   C  the control candidates: A right and more than half of the B models right. With an even
//      population, a sample that exactly half of B gets wrong is in neither S nor C (a tie: it
//      is counted, not guessed).
//   R  random controls: drawn from C without replacement (seeded), |S| of them by default.
//   M  matched controls: one per outlier, from C, of the same class and with the nearest margin
//      of A (z_y - max_{j != y} z_j), without replacement. Greedy nearest pair first: within a
//      class, of all (outlier, candidate) pairs still free, the one with the smallest margin
//      difference is matched next (ties: the smaller outlier index, then the smaller candidate
//      index). An outlier whose class has run out of candidates stays unmatched and is listed
//      as such: it is never matched across classes.
// R and M are drawn independently: a sample may be in both. Neither ever holds an outlier.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::attacks {

// What A and B said about each sample of one pool; sample i is index i of the split.
struct PoolPredictions {
  std::vector<std::int64_t> labels;                      // the true labels
  std::vector<std::int64_t> a_predictions;               // A's predicted classes
  std::vector<double> a_margins;                         // A's logit margins (true label vs the best other)
  std::vector<std::vector<std::int64_t>> b_predictions;  // one vector of predicted classes per B model
};

// A model's predicted class and margin z_y - max_{j != y} z_j per row of [N, C] logits (any
// device and floating dtype; the values are brought to the host) for int64 labels [N].
struct ModelAnswers {
  std::vector<std::int64_t> predictions;
  std::vector<double> margins;
};
ModelAnswers predictions_and_margins(const Tensor& logits, const Tensor& labels);

// The sets of one pool. Indices are sample indices of the split.
struct PoolSelection {
  std::vector<std::int64_t> outliers;   // S, ascending
  std::vector<std::int64_t> random;     // R, ascending
  std::vector<std::int64_t> matched;    // M: matched[k] is the partner of outliers[k], -1 when unmatched
  std::vector<std::int64_t> unmatched;  // the outliers without a partner, ascending
  std::int64_t candidates = 0;          // |C|
  std::int64_t ties = 0;                // samples A gets right and exactly half of B gets wrong
};

// Throws unless every vector of `pool` has one entry per sample and there is at least one B model.
void check_pool(const PoolPredictions& pool);
// S: A right, more than half of B wrong.
std::vector<std::int64_t> select_outliers(const PoolPredictions& pool);
// C: A right, more than half of B right.
std::vector<std::int64_t> control_candidates(const PoolPredictions& pool);
// R: `count` samples of `candidates` without replacement, seeded, ascending (all of them when
// there are fewer).
std::vector<std::int64_t> random_controls(const std::vector<std::int64_t>& candidates, std::int64_t count,
                                          std::uint64_t seed);
// M: one partner from `candidates` per outlier (see the top of this file), -1 when unmatched.
std::vector<std::int64_t> matched_controls(const PoolPredictions& pool, const std::vector<std::int64_t>& outliers,
                                           const std::vector<std::int64_t>& candidates);
// All of the above for one pool; `random_count` < 0 draws |S| random controls.
PoolSelection select_pool(const PoolPredictions& pool, std::int64_t random_count, std::uint64_t seed);

// One row of sets.csv: a sample and the set it belongs to. A sample in two sets (R and M) has
// two rows. `partner`: for an M row the outlier it is matched to, for an S row its M partner
// (-1 when unmatched), -1 for R rows.
struct SelectionRow {
  std::string split;  // "train" or "test"
  std::int64_t index = 0, label = 0;
  double a_margin = 0;
  std::string set;    // S, R, M on the training split; S_test, R_test, M_test on the test split
  std::int64_t partner = -1;
  bool operator==(const SelectionRow&) const = default;
  // The columns of sets.csv (experiments/common/record.h), in order.
  template <class Self, class Visit>
  static void fields(Self& row, Visit&& visit) {
    visit("split", row.split);
    visit("index", row.index);
    visit("label", row.label);
    visit("a_margin", row.a_margin);
    visit("set", row.set);
    visit("partner", row.partner);
  }
};

// The whole selection as rows: for each pool its S rows, then R, then M (matched outliers only).
std::vector<SelectionRow> selection_rows(const PoolPredictions& train, const PoolSelection& train_sets,
                                         const PoolPredictions& test, const PoolSelection& test_sets);

// At most `max_per_set` rows of each set, drawn reproducibly (seeded) and kept in their order.
// M follows S: an M row is kept exactly when its partner S row is (so M keeps its pairs, and has
// at most `max_per_set` rows); S and R are subsampled independently.
std::vector<SelectionRow> cap_per_set(const std::vector<SelectionRow>& rows, std::int64_t max_per_set,
                                      std::uint64_t seed);

}  // namespace oa::attacks
