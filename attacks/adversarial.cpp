#include "attacks/adversarial.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "framework/autograd/node.h"
#include "framework/ops/ops.h"

namespace oa::attacks {

Tensor tensor_like(const std::vector<double>& values, const Shape& shape, const Tensor& like) {
  return Tensor::from_vector(values, shape).to(like.dtype()).to(like.device());
}

Tensor row_mask(const std::vector<bool>& flags, const Tensor& like) {
  return tensor_like(std::vector<double>(flags.begin(), flags.end()), {static_cast<std::int64_t>(flags.size())}, like);
}

Tensor per_sample(const std::vector<double>& values, const Tensor& like) {
  return tensor_like(values, {static_cast<std::int64_t>(values.size()), 1, 1, 1}, like);
}

std::vector<double> row_l2_norms(const Tensor& t) {
  NoGradGuard no_grad;
  return sqrt(sum(square(t), {1, 2, 3})).to_vector<double>();
}

std::vector<double> row_linf_norms(const Tensor& t) {
  NoGradGuard no_grad;
  return max(abs(t).flatten(1), 1).to_vector<double>();
}

void check_attack_inputs(const Tensor& x, const Tensor& labels, const char* op) {
  check_rank(x, 4, op, "inputs");
  check_dtype(labels, DType::Int64, op, "labels");
  OA_CHECK(labels.dim() == 1 && labels.size(0) == x.size(0), "{}: labels {} do not match inputs {}", op,
           shape_str(labels.shape()), shape_str(x.shape()));
}

void verify(nn::Module& model, const Tensor& clean, const Tensor& labels, bool targeted, AttackOutput& out) {
  check_same_shape(clean, out.adversarial, "attack verification");
  const std::int64_t n = clean.size(0), dim = clean.numel() / std::max<std::int64_t>(1, n);
  OA_CHECK(static_cast<std::int64_t>(out.samples.size()) == n, "attack verification: {} results for {} inputs",
           out.samples.size(), n);
  Tensor logits;
  {
    model.eval();
    NoGradGuard no_grad;
    logits = model(out.adversarial);
  }
  const auto z = logits.to_vector<double>();
  const auto y = labels.to_vector<std::int64_t>();
  const std::int64_t classes = logits.size(1);
  const auto x = clean.to_vector<double>();
  auto adv = out.adversarial.to_vector<double>();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::int64_t i = 0; i < n; ++i) {
    const auto row = z.begin() + i * classes;
    const std::int64_t predicted = std::max_element(row, row + classes) - row;
    bool ok = targeted ? predicted == y[i] : predicted != y[i];
    double l2 = 0, linf = 0, l0 = 0;
    for (std::int64_t k = i * dim; k < (i + 1) * dim; ++k) {
      ok = ok && adv[k] >= 0.0 && adv[k] <= 1.0;
      const double d = std::abs(adv[k] - x[k]);
      l2 += d * d;
      linf = std::max(linf, d);
      l0 += d > 0;
    }
    SampleResult& r = out.samples[i];
    r.success = ok;
    r.l2 = ok ? std::sqrt(l2) : nan;
    r.linf = ok ? linf : nan;
    r.l0 = ok ? l0 : nan;
    if (!ok) std::copy(x.begin() + i * dim, x.begin() + (i + 1) * dim, adv.begin() + i * dim);
  }
  out.adversarial = tensor_like(adv, clean.shape(), clean);
}

}  // namespace oa::attacks
