#pragma once
// The only window a black-box attack has on the model it attacks.
//
// A query model wraps a model and answers, for a batch of inputs, either the predicted labels
// (LabelQueryModel, the label-only threat model) or the scores, i.e. the logits
// (ScoreQueryModel). Every input row is tagged with the sample it belongs to and costs that
// sample one query, success checks included: an attack learns whether it succeeded only by
// asking. Each sample has a budget; a query that would take any sample of the batch past it
// is refused before anything runs, by throwing an oa::Error. Refusal is an attack's bug, not
// an answer: attacks ask remaining() first and never send such a query.
//
// Gradients are out of reach by construction: the model is a private member with no accessor,
// queries run in eval mode under NoGradGuard (no tape is recorded, the returned scores carry
// no history), and copying is forbidden (a copy would reset the counts).
// Label-only mode is a compile-time guarantee: LabelQueryModel has no method that returns
// scores; only ScoreQueryModel has scores(). An attack that takes a LabelQueryModel& cannot
// call it.
#include <cstdint>
#include <vector>

#include "attacks/adversarial.h"
#include "framework/nn/module.h"

namespace oa::attacks {

class LabelQueryModel {
 public:
  // samples: how many samples the attack works on (sample ids 0 .. samples-1);
  // budget: the most queries any one sample may cost.
  LabelQueryModel(nn::Module& model, std::int64_t samples, std::int64_t budget);
  LabelQueryModel(const LabelQueryModel&) = delete;
  LabelQueryModel& operator=(const LabelQueryModel&) = delete;

  // The predicted label (arg max of the logits, the first on ties) of each row of inputs
  // [B, C, H, W]; row b is a query of sample sample_of_row[b].
  std::vector<std::int64_t> labels(const Tensor& inputs, const std::vector<std::int64_t>& sample_of_row);

  std::int64_t samples() const { return static_cast<std::int64_t>(queries_.size()); }
  std::int64_t budget() const { return budget_; }
  std::int64_t queries(std::int64_t sample) const;    // spent so far by that sample
  std::int64_t remaining(std::int64_t sample) const;  // budget - queries(sample)
  std::int64_t total_queries() const;                 // over all samples: rows the model has run

 private:
  friend class ScoreQueryModel;
  // Checks the batch against the budgets, counts it, and runs the model (eval, no tape).
  Tensor logits(const Tensor& inputs, const std::vector<std::int64_t>& sample_of_row);

  nn::Module& model_;
  std::vector<std::int64_t> queries_;
  std::int64_t budget_;
};

class ScoreQueryModel : public LabelQueryModel {
 public:
  using LabelQueryModel::LabelQueryModel;
  // The logits [B, classes] of each row of inputs, counted like labels(); detached.
  Tensor scores(const Tensor& inputs, const std::vector<std::int64_t>& sample_of_row);
};

// ---- shared by the black-box attacks ---------------------------------------------------

// Throws unless x is [N, C, H, W], labels int64 [N], and the query model has N samples
// (`op` names the attack).
void check_blackbox_inputs(const LabelQueryModel& model, const Tensor& x, const Tensor& labels, const char* op);

// A batch of `rows` candidate inputs of x's per-sample shape, from host values (row-major),
// with x's dtype and device: what an attack sends to the query model.
Tensor candidate_batch(const std::vector<double>& values, std::int64_t rows, const Tensor& x);

// What a black-box attack returns before the caller's verify(): `adversarial` (host values of
// x's shape) where the attack believes it succeeded, the clean input elsewhere; success as the
// attack saw it in the answers; queries (and forwards) as spent; distances NaN until verify()
// measures them.
AttackOutput blackbox_output(const std::vector<double>& adversarial, const Tensor& x, const std::vector<bool>& success,
                             const std::vector<std::int64_t>& queries);

}  // namespace oa::attacks
