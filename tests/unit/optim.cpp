// optim::RowAdam: one Adam per row of a tensor, each row with its own step count.
#include <doctest/doctest.h>

#include <vector>

#include "framework/ops/ops.h"
#include "framework/optim/optimizer.h"
#include "framework/optim/row_adam.h"

using oa::Tensor;

namespace {

const oa::optim::RowAdamOptions kOptions{.lr = 0.1};

std::vector<double> row_of(const Tensor& t, std::int64_t r) {
  const auto v = t.to_vector<double>();
  return {v.begin() + r * 3, v.begin() + r * 3 + 3};
}

void check_equal(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    CHECK(actual[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

// The gradient of the k-th step: varies from step to step, so that the moments matter.
std::vector<double> gradient_at(int k) { return {0.5 - 0.3 * k, 1.0 + 0.1 * k * k, -2.0 + k}; }

// `steps` steps of plain optim::Adam on one parameter [3] starting at w0.
std::vector<double> plain_adam(const std::vector<double>& w0, int first, int steps) {
  Tensor p = Tensor::from_vector(w0, {3});
  p.set_requires_grad();
  oa::optim::Adam adam({p}, {.lr = kOptions.lr, .beta1 = kOptions.beta1, .beta2 = kOptions.beta2, .eps = kOptions.eps});
  for (int k = first; k < first + steps; ++k) {
    p.zero_grad();
    oa::sum(oa::mul(p, Tensor::from_vector(gradient_at(k), {3}))).backward();  // dL/dp = gradient_at(k)
    adam.step();
  }
  return p.to_vector<double>();
}

}  // namespace

TEST_CASE("RowAdam: every row equals plain Adam on that row alone; an inactive row stands still") {
  const std::vector<double> w0{1, -2, 3};
  // Three rows: row 0 steps every time, row 1 never, row 2 only from the third step on.
  Tensor w = Tensor::from_vector<double>({1, -2, 3, 4, 5, 6, 1, -2, 3}, {3, 3});
  oa::optim::RowAdam adam(w, kOptions);
  for (int k = 0; k < 5; ++k) {
    std::vector<double> g(9);
    for (std::int64_t r = 0; r < 3; ++r) {
      const std::int64_t first = r == 2 ? 2 : 0;  // row 2 sees gradient_at(0) at its first step
      const auto gr = gradient_at(k - static_cast<int>(first));
      for (std::size_t c = 0; c < 3; ++c) g[r * 3 + c] = gr[c];
    }
    adam.step(w, Tensor::from_vector(g, {3, 3}), {true, false, k >= 2});
  }
  check_equal(row_of(w, 0), plain_adam(w0, 0, 5));
  check_equal(row_of(w, 1), {4, 5, 6});
  check_equal(row_of(w, 2), plain_adam(w0, 0, 3));  // its own bias corrections: steps 1, 2, 3
}

TEST_CASE("RowAdam: a reset row restarts at step 1 with zero moments; the other rows go on") {
  const std::vector<double> w0{0.5, 0.25, -1};
  Tensor w = Tensor::from_vector<double>({0.5, 0.25, -1, 0, 0, 0}, {2, 3});
  oa::optim::RowAdam adam(w, kOptions);
  const auto step = [&](int k) {
    std::vector<double> g = gradient_at(k);
    g.insert(g.end(), {1, 1, 1});
    adam.step(w, Tensor::from_vector(g, {2, 3}), {true, true});
  };
  for (int k = 0; k < 4; ++k) step(k);
  const std::vector<double> row0_after_four = row_of(w, 0);
  check_equal(row0_after_four, plain_adam(w0, 0, 4));

  adam.reset({true, false});
  for (int k = 0; k < 3; ++k) step(k);
  // Row 0: a fresh Adam from where it stood; row 1: steps 5 to 7 of one unbroken Adam.
  check_equal(row_of(w, 0), plain_adam(row0_after_four, 0, 3));
  const auto row1_unbroken = [&] {
    Tensor p = Tensor::zeros({3}, oa::DType::Float64);
    p.set_requires_grad();
    oa::optim::Adam reference({p}, {.lr = kOptions.lr});
    for (int k = 0; k < 7; ++k) {
      p.zero_grad();
      oa::sum(p).backward();  // gradient 1 everywhere
      reference.step();
    }
    return p.to_vector<double>();
  }();
  check_equal(row_of(w, 1), row1_unbroken);
}

TEST_CASE("RowAdam: flags and gradients must match the rows, and the options must be valid") {
  Tensor w = Tensor::zeros({2, 3}, oa::DType::Float64);
  oa::optim::RowAdam adam(w, kOptions);
  CHECK_THROWS_WITH_AS(adam.step(w, Tensor::zeros({2, 3}, oa::DType::Float64), {true}),
                       doctest::Contains("RowAdam::step: 1 flags for 2 rows"), oa::Error);
  CHECK_THROWS_WITH_AS(adam.step(w, Tensor::zeros({3, 2}, oa::DType::Float64), {true, true}),
                       doctest::Contains("RowAdam::step: shapes differ"), oa::Error);
  CHECK_THROWS_WITH_AS(adam.reset({true, false, true}), doctest::Contains("RowAdam::reset: 3 flags for 2 rows"),
                       oa::Error);
  CHECK_THROWS_WITH_AS(oa::optim::RowAdam(w, {.lr = 0.1, .beta1 = 1.0}), doctest::Contains("RowAdam: lr 0.1"),
                       oa::Error);
}
