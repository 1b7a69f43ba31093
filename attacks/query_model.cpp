#include "attacks/query_model.h"

#include <algorithm>
#include <limits>
#include <map>

#include "framework/autograd/node.h"

namespace oa::attacks {

LabelQueryModel::LabelQueryModel(nn::Module& model, std::int64_t samples, std::int64_t budget)
    : model_(model), queries_(static_cast<std::size_t>(std::max<std::int64_t>(samples, 0)), 0), budget_(budget) {
  OA_CHECK(samples >= 1 && budget >= 1, "query model: {} samples with a budget of {} queries each", samples, budget);
}

std::int64_t LabelQueryModel::queries(std::int64_t sample) const {
  OA_CHECK(sample >= 0 && sample < samples(), "query model: sample {} of {}", sample, samples());
  return queries_[sample];
}

std::int64_t LabelQueryModel::remaining(std::int64_t sample) const { return budget_ - queries(sample); }

std::int64_t LabelQueryModel::total_queries() const {
  std::int64_t total = 0;
  for (std::int64_t q : queries_) total += q;
  return total;
}

Tensor LabelQueryModel::logits(const Tensor& inputs, const std::vector<std::int64_t>& sample_of_row) {
  check_rank(inputs, 4, "query model", "inputs");
  OA_CHECK(static_cast<std::int64_t>(sample_of_row.size()) == inputs.size(0),
           "query model: {} sample ids for inputs {}", sample_of_row.size(), shape_str(inputs.shape()));
  // Refuse the whole batch, before running or counting anything, if one sample would pass
  // its budget.
  std::map<std::int64_t, std::int64_t> asked;
  for (std::int64_t s : sample_of_row) {
    OA_CHECK(s >= 0 && s < samples(), "query model: sample id {} outside [0, {})", s, samples());
    asked[s] += 1;
  }
  for (const auto& [s, count] : asked)
    OA_CHECK(queries_[s] + count <= budget_,
             "query model: sample {} asks {} more queries with {} of its budget of {} spent (refused)", s, count,
             queries_[s], budget_);
  for (const auto& [s, count] : asked) queries_[s] += count;
  model_.eval();
  NoGradGuard no_grad;
  return model_(inputs).detach();
}

std::vector<std::int64_t> LabelQueryModel::labels(const Tensor& inputs, const std::vector<std::int64_t>& sample_of_row) {
  const Tensor z = logits(inputs, sample_of_row);
  const std::int64_t rows = z.size(0), classes = z.size(1);
  const auto values = z.to_vector<double>();
  std::vector<std::int64_t> predicted(rows);
  for (std::int64_t b = 0; b < rows; ++b) {
    const auto row = values.begin() + b * classes;
    predicted[b] = std::max_element(row, row + classes) - row;
  }
  return predicted;
}

Tensor ScoreQueryModel::scores(const Tensor& inputs, const std::vector<std::int64_t>& sample_of_row) {
  return logits(inputs, sample_of_row);
}

void check_blackbox_inputs(const LabelQueryModel& model, const Tensor& x, const Tensor& labels, const char* op) {
  check_attack_inputs(x, labels, op);
  OA_CHECK(model.samples() == x.size(0), "{}: the query model counts {} samples, the inputs are {}", op,
           model.samples(), shape_str(x.shape()));
}

Tensor candidate_batch(const std::vector<double>& values, std::int64_t rows, const Tensor& x) {
  Shape shape = x.shape();
  shape[0] = rows;
  return tensor_like(values, shape, x);
}

AttackOutput blackbox_output(const std::vector<double>& adversarial, const Tensor& x, const std::vector<bool>& success,
                             const std::vector<std::int64_t>& queries) {
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  const auto clean = x.to_vector<double>();
  std::vector<double> values = adversarial;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  AttackOutput out{Tensor(), std::vector<SampleResult>(n)};
  for (std::int64_t i = 0; i < n; ++i) {
    SampleResult& r = out.samples[i];
    r.success = success[i];
    r.l2 = r.linf = r.l0 = nan;
    r.forwards = r.queries = queries[i];
    if (!success[i]) std::copy(clean.begin() + i * dim, clean.begin() + (i + 1) * dim, values.begin() + i * dim);
  }
  out.adversarial = tensor_like(values, x.shape(), x);
  return out;
}

}  // namespace oa::attacks
