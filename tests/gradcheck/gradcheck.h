#pragma once
// Gradient checking: compares the gradients autograd computes with central differences.
//
// For f(inputs) we form the scalar L = sum(f(inputs) * R) with a fixed random tensor R
// (a random projection: every output element takes part, with a different weight), then
//   analytic:  dL/dx from backward()
//   numeric:   (L(x + h e_i) - L(x - h e_i)) / 2h  for a random sample of elements i
// and require |analytic - numeric| <= atol + rtol * |numeric|. Inputs are float64 so that
// the finite differences are accurate to about 1e-9 with h = 1e-6 * max(1, |x_i|).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "framework/autograd/node.h"
#include "framework/core/tensor.h"
#include "framework/ops/ops.h"

namespace gradcheck {

using Fn = std::function<oa::Tensor(const std::vector<oa::Tensor>&)>;

struct Options {
  int samples = 30;    // elements checked per input (all of them when the input is smaller)
  double atol = 1e-6;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-4;
  std::uint32_t seed = 2024;  // for R and for the choice of elements
};

// ---- inputs -----------------------------------------------------------------------------

// Uniform values in [lo, hi), float64.
inline oa::Tensor uniform(const oa::Shape& shape, double lo, double hi, std::mt19937& rng) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<std::size_t>(oa::shape_numel(shape)));
  for (auto& x : v) x = dist(rng);
  return oa::Tensor::from_vector(v, shape);
}

// Values for ops with kinks (relu, abs, max, ...): the tensors together hold the grid
// (k + 1/2) * gap for k = -n/2 .. n/2 - 1, shuffled. Any two values differ by >= gap and
// every value is >= gap/2 away from 0, so a step of h << gap never crosses a kink.
inline std::vector<oa::Tensor> spaced(const std::vector<oa::Shape>& shapes, double gap, std::mt19937& rng) {
  std::int64_t total = 0;
  for (const auto& s : shapes) total += oa::shape_numel(s);
  std::vector<double> grid(static_cast<std::size_t>(total));
  for (std::int64_t k = 0; k < total; ++k) grid[k] = (static_cast<double>(k - total / 2) + 0.5) * gap;
  std::shuffle(grid.begin(), grid.end(), rng);
  std::vector<oa::Tensor> out;
  auto next = grid.begin();
  for (const auto& s : shapes) {
    const auto n = static_cast<std::ptrdiff_t>(oa::shape_numel(s));
    out.push_back(oa::Tensor::from_vector(std::vector<double>(next, next + n), s));
    next += n;
  }
  return out;
}
inline oa::Tensor spaced(const oa::Shape& shape, double gap, std::mt19937& rng) {
  return spaced(std::vector<oa::Shape>{shape}, gap, rng)[0];
}

inline oa::Tensor labels(const std::vector<std::int64_t>& values) {
  return oa::Tensor::from_vector(values, {static_cast<std::int64_t>(values.size())});
}

// ---- the check ------------------------------------------------------------------------------

namespace detail {

// sum(y * r) computed outside the framework, so the numeric side uses no op under test.
inline double project(const oa::Tensor& y, const std::vector<double>& r) {
  const auto v = y.to_vector<double>();
  REQUIRE(v.size() == r.size());
  return std::inner_product(v.begin(), v.end(), r.begin(), 0.0);
}

// `count` distinct flat indices in [0, n), in random order (all of them when n <= count).
inline std::vector<std::int64_t> sample_indices(std::int64_t n, int count, std::mt19937& rng) {
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng);
  if (n > count) all.resize(static_cast<std::size_t>(count));
  return all;
}

}  // namespace detail

// One sampled element whose analytic and numeric gradients disagree.
struct Mismatch {
  std::size_t input;
  std::int64_t element;
  double analytic, numeric;
};

// Compares the gradient of f with respect to every input that requires grad and returns the
// disagreeing elements. Inputs that do not require grad must get no gradient.
inline std::vector<Mismatch> compare(const std::string& name, const Fn& f, std::vector<oa::Tensor> inputs,
                                     const Options& opt = {}) {
  CAPTURE(name);
  std::mt19937 rng(opt.seed);
  for (auto& x : inputs) {
    REQUIRE(x.dtype() == oa::DType::Float64);
    x.zero_grad();
  }

  // Analytic: backward of L = sum(f(x) * R).
  const oa::Tensor y = f(inputs);
  REQUIRE(y.requires_grad());
  std::normal_distribution<double> normal;
  std::vector<double> r(static_cast<std::size_t>(y.numel()));
  for (auto& v : r) v = normal(rng);
  oa::sum(oa::mul(y, oa::Tensor::from_vector(r, y.shape()))).backward();

  // Numeric: central differences, with recording off.
  oa::NoGradGuard no_grad;
  std::vector<Mismatch> mismatches;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    oa::Tensor& x = inputs[i];
    if (!x.requires_grad()) {
      CHECK_MESSAGE(!x.grad().defined(), name << ": input " << i << " needs no gradient but got one");
      continue;
    }
    REQUIRE_MESSAGE(x.grad().defined(), name << ": input " << i << " got no gradient");
    REQUIRE(x.grad().shape() == x.shape());
    const auto analytic = x.grad().to_vector<double>();
    double* data = x.data<double>();
    for (std::int64_t j : detail::sample_indices(x.numel(), opt.samples, rng)) {
      const double original = data[j];
      const double h = 1e-6 * std::max(1.0, std::abs(original));
      const double plus = original + h, minus = original - h;  // exact step: plus - minus
      data[j] = plus;
      const double l_plus = detail::project(f(inputs), r);
      data[j] = minus;
      const double l_minus = detail::project(f(inputs), r);
      data[j] = original;
      const double numeric = (l_plus - l_minus) / (plus - minus);
      const double a = analytic[static_cast<std::size_t>(j)];
      if (!(std::abs(a - numeric) <= opt.atol + opt.rtol * std::abs(numeric))) mismatches.push_back({i, j, a, numeric});
    }
  }
  return mismatches;
}

// compare() and one failed check per mismatching element, naming the op, input and element.
inline void check(const std::string& name, const Fn& f, std::vector<oa::Tensor> inputs, const Options& opt = {}) {
  for (const Mismatch& m : compare(name, f, std::move(inputs), opt))
    FAIL_CHECK(name << ": input " << m.input << ", element " << m.element << ": analytic " << m.analytic
                    << " vs numeric " << m.numeric << " (difference " << m.analytic - m.numeric << ")");
}

}  // namespace gradcheck
