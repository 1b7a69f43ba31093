// Gradient checks of the reductions (sum, mean, max, sum_to) and the shape ops
// (transpose, reshape, flatten).
#include "tests/gradcheck/gradcheck.h"

namespace {

using oa::Shape;
using oa::Tensor;

const Shape kShape{3, 4, 5};

// All dim lists the sum/mean/max checks use; -1 is the last dim.
const std::vector<std::vector<std::int64_t>> kDimLists = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {1, 2}, {0, 1, 2}};

Tensor grad_input(const Shape& shape, std::mt19937& rng) {
  Tensor x = gradcheck::uniform(shape, -2.0, 2.0, rng);
  x.set_requires_grad();
  return x;
}

std::string dims_str(const std::vector<std::int64_t>& dims, bool keepdim) {
  return oa::shape_str(dims) + (keepdim ? " keepdim" : "");
}

}  // namespace

TEST_CASE("gradcheck: sum and mean over dims") {
  std::mt19937 rng(10);
  for (const auto& dims : kDimLists)
    for (bool keepdim : {false, true}) {
      Tensor x = grad_input(kShape, rng);
      gradcheck::check("sum " + dims_str(dims, keepdim),
                       [&](const std::vector<Tensor>& in) { return oa::sum(in[0], dims, keepdim); }, {x});
      gradcheck::check("mean " + dims_str(dims, keepdim),
                       [&](const std::vector<Tensor>& in) { return oa::mean(in[0], dims, keepdim); }, {x});
    }
}

TEST_CASE("gradcheck: max over one dim") {
  std::mt19937 rng(11);
  for (std::int64_t dim : {0, 1, 2, -1})
    for (bool keepdim : {false, true}) {
      Tensor x = gradcheck::spaced(kShape, 0.01, rng);  // distinct values: a unique maximum
      x.set_requires_grad();
      gradcheck::check("max dim " + std::to_string(dim) + (keepdim ? " keepdim" : ""),
                       [&](const std::vector<Tensor>& in) { return oa::max(in[0], dim, keepdim); }, {x});
    }
}

TEST_CASE("gradcheck: sum_to") {
  const Shape targets[] = {{3, 4, 5}, {4, 5}, {4, 1}, {1, 5}, {5}, {3, 1, 5}, {3, 4, 1}, {1, 1, 1}, {}};
  std::mt19937 rng(12);
  for (const auto& target : targets) {
    Tensor x = grad_input(kShape, rng);
    gradcheck::check("sum_to " + oa::shape_str(target),
                     [&](const std::vector<Tensor>& in) { return oa::sum_to(in[0], target); }, {x});
  }
}

TEST_CASE("gradcheck: transpose, reshape and flatten") {
  std::mt19937 rng(13);
  gradcheck::check("transpose", [](const std::vector<Tensor>& in) { return oa::tanh(oa::transpose(in[0])); },
                   {grad_input({4, 7}, rng)});
  gradcheck::check("reshape [-1, 6]",
                   [](const std::vector<Tensor>& in) { return oa::mul(in[0].reshape({-1, 6}), in[1]); },
                   {grad_input(kShape, rng), grad_input({10, 6}, rng)});
  gradcheck::check("reshape [] of a one-element tensor",
                   [](const std::vector<Tensor>& in) { return oa::exp(in[0].reshape({})); },
                   {grad_input({1, 1}, rng)});
  gradcheck::check("flatten(1)", [](const std::vector<Tensor>& in) { return oa::tanh(in[0].flatten()); },
                   {grad_input(kShape, rng)});
  gradcheck::check("flatten(0) then matmul",
                   [](const std::vector<Tensor>& in) {
                     return oa::matmul(in[0].flatten(0).reshape({1, -1}), in[1]);
                   },
                   {grad_input(kShape, rng), grad_input({60, 2}, rng)});
}
