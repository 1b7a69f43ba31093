// Gradient checks of the classification ops: log_softmax, cross_entropy, gather, margin.
#include "tests/gradcheck/gradcheck.h"

namespace {

using oa::Tensor;

Tensor logits(std::mt19937& rng) {
  Tensor z = gradcheck::uniform({5, 4}, -3.0, 3.0, rng);
  z.set_requires_grad();
  return z;
}

Tensor labels() { return gradcheck::labels({2, 0, 3, 3, 1}); }

}  // namespace

TEST_CASE("gradcheck: log_softmax") {
  std::mt19937 rng(50);
  gradcheck::check("log_softmax", [](const std::vector<Tensor>& in) { return oa::log_softmax(in[0]); }, {logits(rng)});
}

TEST_CASE("gradcheck: cross_entropy") {
  std::mt19937 rng(51);
  for (double smoothing : {0.0, 0.1, 1.0})
    gradcheck::check(fmt::format("cross_entropy label_smoothing {}", smoothing),
                     [smoothing](const std::vector<Tensor>& in) {
                       return oa::cross_entropy(in[0], labels(), smoothing);
                     },
                     {logits(rng)});
}

TEST_CASE("gradcheck: gather") {
  std::mt19937 rng(52);
  gradcheck::check("gather", [](const std::vector<Tensor>& in) { return oa::gather(in[0], labels()); }, {logits(rng)});
}

TEST_CASE("gradcheck: margin") {
  std::mt19937 rng(53);
  // Distinct logits (0.05 apart): the runner-up of every row is unique.
  Tensor z = gradcheck::spaced({5, 4}, 0.05, rng);
  z.set_requires_grad();
  gradcheck::check("margin", [](const std::vector<Tensor>& in) { return oa::margin(in[0], labels()); }, {z});
}
