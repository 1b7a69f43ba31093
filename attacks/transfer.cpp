#include "attacks/transfer.h"

#include <algorithm>
#include <cmath>

namespace oa::attacks {

namespace {

double norm_of(const double* delta, std::int64_t dim, Norm norm) {
  double value = 0;
  for (std::int64_t p = 0; p < dim; ++p)
    value = norm == Norm::Linf ? std::max(value, std::abs(delta[p])) : value + delta[p] * delta[p];
  return norm == Norm::Linf ? value : std::sqrt(value);
}

}  // namespace

AttackOutput transfer(LabelQueryModel& target, nn::Module& surrogate, const Tensor& x, const Tensor& labels,
                      const TransferOptions& o) {
  check_blackbox_inputs(target, x, labels, "transfer");
  OA_CHECK(o.eps > 0 && o.iterations >= 1 && o.line_search >= 0,
           "transfer: invalid eps {}, iterations {} or line_search {}", o.eps, o.iterations, o.line_search);
  const std::int64_t n = x.size(0), dim = x.numel() / n;
  const AttackOutput on_surrogate =
      pgd(surrogate, x, labels, {.norm = o.norm, .eps = o.eps, .iterations = o.iterations, .seed = o.seed});
  const auto clean = x.to_vector<double>(), found = on_surrogate.adversarial.to_vector<double>();
  const auto y = labels.to_vector<std::int64_t>();
  std::vector<double> delta(clean.size()), low(n, 0.0), high(n, 0.0);
  for (std::size_t p = 0; p < clean.size(); ++p) delta[p] = found[p] - clean[p];
  // The point at scale t of sample i: clip(x_i + t delta_i).
  const auto point = [&](std::int64_t i, double t, double* into) {
    for (std::int64_t p = 0; p < dim; ++p) into[p] = std::clamp(clean[i * dim + p] + t * delta[i * dim + p], 0.0, 1.0);
  };
  // Asks the target for the label of each sample of `asked` at its scale; true where adversarial.
  const auto ask = [&](const std::vector<std::int64_t>& asked, const std::vector<double>& scale) {
    std::vector<double> batch(asked.size() * dim);
    for (std::size_t b = 0; b < asked.size(); ++b) point(asked[b], scale[b], batch.data() + b * dim);
    const auto predicted = target.labels(candidate_batch(batch, static_cast<std::int64_t>(asked.size()), x), asked);
    std::vector<bool> adversarial(asked.size());
    for (std::size_t b = 0; b < asked.size(); ++b) adversarial[b] = predicted[b] != y[asked[b]];
    return adversarial;
  };
  std::vector<std::int64_t> asked;
  std::vector<double> scale;
  for (std::int64_t i = 0; i < n; ++i) {
    const double length = norm_of(delta.data() + i * dim, dim, o.norm);
    if (!on_surrogate.samples[i].success || !(length > 0) || target.remaining(i) < 1) continue;
    asked.push_back(i);
    scale.push_back(o.eps / length);
  }
  std::vector<bool> success(n, false);
  std::vector<std::int64_t> queries(n, 0);
  if (!asked.empty()) {
    const auto adversarial = ask(asked, scale);
    for (std::size_t b = 0; b < asked.size(); ++b) {
      queries[asked[b]] = 1;
      success[asked[b]] = adversarial[b];
      high[asked[b]] = scale[b];
    }
  }
  for (std::int64_t step = 0; step < o.line_search; ++step) {
    asked.clear();
    scale.clear();
    for (std::int64_t i = 0; i < n; ++i)
      if (success[i] && target.remaining(i) > 0) {
        asked.push_back(i);
        scale.push_back((low[i] + high[i]) / 2);
      }
    if (asked.empty()) break;
    const auto adversarial = ask(asked, scale);
    for (std::size_t b = 0; b < asked.size(); ++b) {
      queries[asked[b]] += 1;
      (adversarial[b] ? high : low)[asked[b]] = scale[b];
    }
  }
  std::vector<double> result = clean;
  for (std::int64_t i = 0; i < n; ++i)
    if (success[i]) point(i, high[i], result.data() + i * dim);
  return blackbox_output(result, x, success, queries);
}

}  // namespace oa::attacks
