// Gradient checks of the elementwise ops: unary, scalar and broadcasting binary ops.
#include "tests/gradcheck/gradcheck.h"

namespace {

using oa::Shape;
using oa::Tensor;

const Shape kShape{4, 5, 6};  // 120 elements: the check samples 30 of them

// Input generators for the different domains of the ops.
Tensor any_value(const Shape& s, std::mt19937& rng) { return gradcheck::uniform(s, -2.0, 2.0, rng); }
Tensor positive(const Shape& s, std::mt19937& rng) { return gradcheck::uniform(s, 0.5, 3.0, rng); }
// Spaced by 0.02 on both sides of 0: no value within 0.01 of the kink of relu / abs.
Tensor away_from_zero(const Shape& s, std::mt19937& rng) { return gradcheck::spaced(s, 0.02, rng); }
// Values (k + 1/2) * 0.05 in [-3, 3]: the clamp bounds -0.6 and 0.9 lie 0.025 away from all.
Tensor clamp_input(const Shape& s, std::mt19937& rng) { return gradcheck::spaced(s, 0.05, rng); }

struct UnaryCase {
  const char* name;
  Tensor (*op)(const Tensor&);
  Tensor (*input)(const Shape&, std::mt19937&);
};

Tensor add_scalar_op(const Tensor& x) { return oa::add_scalar(x, 0.7); }
Tensor mul_scalar_op(const Tensor& x) { return oa::mul_scalar(x, -1.3); }
Tensor pow_op(const Tensor& x) { return oa::pow_scalar(x, 2.5); }
Tensor pow_negative_op(const Tensor& x) { return oa::pow_scalar(x, -1.5); }
Tensor clamp_op(const Tensor& x) { return oa::clamp(x, -0.6, 0.9); }

// Operand pairs for the binary ops.
std::vector<Tensor> any_values(const Shape& a, const Shape& b, std::mt19937& rng) {
  return {any_value(a, rng), any_value(b, rng)};
}
// The divisor keeps away from 0: |b| in [0.5, 2] with a random sign.
std::vector<Tensor> nonzero_divisor(const Shape& a, const Shape& b, std::mt19937& rng) {
  std::vector<double> v(static_cast<std::size_t>(oa::shape_numel(b)));
  std::uniform_real_distribution<double> magnitude(0.5, 2.0);
  for (auto& x : v) x = rng() % 2 ? magnitude(rng) : -magnitude(rng);
  return {any_value(a, rng), Tensor::from_vector(v, b)};
}
// maximum: the values of a and b together are distinct (0.01 apart): no ties.
std::vector<Tensor> no_ties(const Shape& a, const Shape& b, std::mt19937& rng) {
  return gradcheck::spaced({a, b}, 0.01, rng);
}

struct BinaryCase {
  const char* name;
  Tensor (*op)(const Tensor&, const Tensor&);
  std::vector<Tensor> (*inputs)(const Shape&, const Shape&, std::mt19937&);
};

}  // namespace

TEST_CASE("gradcheck: unary elementwise ops") {
  const UnaryCase cases[] = {
      {"neg", oa::neg, any_value},
      {"exp", oa::exp, any_value},
      {"log", oa::log, positive},
      {"tanh", oa::tanh, any_value},
      {"abs", oa::abs, away_from_zero},
      {"sqrt", oa::sqrt, positive},
      {"square", oa::square, any_value},
      {"relu", oa::relu, away_from_zero},
      {"sign", oa::sign, away_from_zero},  // piecewise constant: a zero gradient
      {"clamp(-0.6, 0.9)", clamp_op, clamp_input},
      {"add_scalar(0.7)", add_scalar_op, any_value},
      {"mul_scalar(-1.3)", mul_scalar_op, any_value},
      {"pow_scalar(2.5)", pow_op, positive},
      {"pow_scalar(-1.5)", pow_negative_op, positive},
  };
  std::mt19937 rng(1);
  for (const auto& c : cases) {
    Tensor x = c.input(kShape, rng);
    x.set_requires_grad();
    gradcheck::check(c.name, [op = c.op](const std::vector<Tensor>& in) { return op(in[0]); }, {x});
  }
}

TEST_CASE("gradcheck: the clamp input really reaches both bounds") {
  // Guards the clamp case above: without clamped elements it would test the identity.
  std::mt19937 rng(1);
  const auto v = clamp_input(kShape, rng).to_vector<double>();
  CHECK(std::count_if(v.begin(), v.end(), [](double x) { return x < -0.6; }) > 10);
  CHECK(std::count_if(v.begin(), v.end(), [](double x) { return x > 0.9; }) > 10);
}

TEST_CASE("gradcheck: binary ops with broadcasting") {
  const BinaryCase cases[] = {
      {"add", oa::add, any_values},         {"sub", oa::sub, any_values},
      {"mul", oa::mul, any_values},         {"div", oa::div, nonzero_divisor},
      {"maximum", oa::maximum, no_ties},    {"minimum", oa::minimum, no_ties},
  };
  const std::pair<Shape, Shape> shapes[] = {
      {{2, 3, 4}, {2, 3, 4}},  // no broadcasting
      {{2, 3, 4}, {3, 1}},     // b broadcast over the first and the last dim
      {{2, 3, 4}, {1, 4}},
      {{2, 3, 4}, {}},         // b a scalar
      {{4}, {2, 3, 4}},        // a is the smaller operand
      {{3, 1}, {1, 4}},        // both operands broadcast
      {{2, 1, 4}, {3, 1}},
  };
  std::mt19937 rng(2);
  for (const auto& c : cases)
    for (const auto& [shape_a, shape_b] : shapes) {
      std::vector<Tensor> in = c.inputs(shape_a, shape_b, rng);
      for (auto& t : in) t.set_requires_grad();
      gradcheck::check(std::string(c.name) + " " + oa::shape_str(shape_a) + " with " + oa::shape_str(shape_b),
                       [op = c.op](const std::vector<Tensor>& x) { return op(x[0], x[1]); }, in);
    }
}

TEST_CASE("gradcheck: binary op with only one operand requiring grad") {
  std::mt19937 rng(3);
  Tensor a = any_value({2, 3, 4}, rng);
  Tensor b = any_value({3, 1}, rng);
  a.set_requires_grad();
  gradcheck::check("mul, b frozen", [](const std::vector<Tensor>& x) { return oa::mul(x[0], x[1]); }, {a, b});
  a.set_requires_grad(false);
  b.set_requires_grad();
  gradcheck::check("mul, a frozen", [](const std::vector<Tensor>& x) { return oa::mul(x[0], x[1]); }, {a, b});
}

TEST_CASE("gradcheck: where (a per-row mask; the gradient goes to a where it is set, to b elsewhere)") {
  std::mt19937 rng(4);
  const auto where_op = [](const std::vector<Tensor>& x) { return oa::where(x[0], x[1], x[2]); };
  for (const Shape& shape : {Shape{5, 3, 2}, Shape{5}}) {
    const Tensor mask = Tensor::from_vector<double>({1, 0, 0, -2, 1}, {5});  // the mask needs no gradient
    Tensor a = any_value(shape, rng), b = any_value(shape, rng);
    a.set_requires_grad();
    b.set_requires_grad();
    gradcheck::check("where " + oa::shape_str(shape), where_op, {mask, a, b});
    a.set_requires_grad(false);
    gradcheck::check("where, a frozen " + oa::shape_str(shape), where_op, {mask, a, b});
  }
}
