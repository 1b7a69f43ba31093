// Gradient accumulation (repeated backward, tensors used several times in one graph) and
// a gradient check of a whole small network, which exercises the engine's ordering.
#include "tests/gradcheck/gradcheck.h"

namespace {

using oa::Tensor;

Tensor input(const oa::Shape& shape, std::mt19937& rng) {
  Tensor x = gradcheck::uniform(shape, -1.0, 1.0, rng);
  x.set_requires_grad();
  return x;
}

void check_close(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    CHECK(actual[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("gradient accumulation: two backward calls without zeroing double the gradient") {
  std::mt19937 rng(60);
  Tensor x = input({3, 4}, rng);
  Tensor w = input({5, 4}, rng);
  const auto loss = [&] { return oa::sum(oa::tanh(oa::linear(x, w))); };  // a fresh graph each call

  loss().backward();
  const auto x_once = x.grad().to_vector<double>();  // copies: backward adds into grad in place
  const auto w_once = w.grad().to_vector<double>();
  loss().backward();

  std::vector<double> x_twice = x_once, w_twice = w_once;
  for (auto& v : x_twice) v *= 2;
  for (auto& v : w_twice) v *= 2;
  check_close(x.grad().to_vector<double>(), x_twice);
  check_close(w.grad().to_vector<double>(), w_twice);

  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  loss().backward();
  check_close(x.grad().to_vector<double>(), x_once);
}

TEST_CASE("gradient accumulation: a leaf used twice in one graph gets the summed gradient") {
  std::mt19937 rng(61);
  Tensor x = input({2, 3}, rng);
  oa::sum(oa::mul(x, x)).backward();  // d/dx sum(x * x) = 2x, one x from each operand
  std::vector<double> two_x = x.to_vector<double>();
  for (auto& v : two_x) v *= 2;
  check_close(x.grad().to_vector<double>(), two_x);

  gradcheck::check("mul(x, x)", [](const std::vector<Tensor>& in) { return oa::mul(in[0], in[0]); }, {x});
  gradcheck::check("x used by two ops: tanh(x) + x * x",
                   [](const std::vector<Tensor>& in) { return oa::add(oa::tanh(in[0]), oa::mul(in[0], in[0])); },
                   {x});
}

TEST_CASE("gradient accumulation: a non-leaf used on several paths (diamond graph)") {
  std::mt19937 rng(62);
  gradcheck::check("y = exp(x); y * y + tanh(y) + sum_to(y, [3])",
                   [](const std::vector<Tensor>& in) {
                     const Tensor y = oa::exp(in[0]);
                     return oa::add(oa::add(oa::mul(y, y), oa::tanh(y)), oa::sum_to(y, {3}));
                   },
                   {input({2, 3}, rng)});
}

TEST_CASE("gradcheck: a small network, conv -> batch_norm -> tanh -> pool -> linear -> cross_entropy") {
  std::mt19937 rng(63);
  Tensor running_mean = oa::Tensor::zeros({4}, oa::DType::Float64);
  Tensor running_var = oa::Tensor::ones({4}, oa::DType::Float64);
  const auto net = [&](const std::vector<Tensor>& p) {
    Tensor h = oa::conv2d(p[0], p[1], p[2], 1, 1);
    h = oa::tanh(oa::batch_norm2d(h, p[3], p[4], running_mean, running_var, true));
    h = oa::avg_pool2d(h, 2, 2).flatten();
    return oa::cross_entropy(oa::linear(h, p[5], p[6]), gradcheck::labels({1, 0, 2}), 0.1);
  };
  gradcheck::check("network", net,
                   {input({3, 2, 4, 4}, rng), input({4, 2, 3, 3}, rng), input({4}, rng), input({4}, rng),
                    input({4}, rng), input({3, 16}, rng), input({3}, rng)});
}

TEST_CASE("gradcheck itself: a wrong backward is detected") {
  // tanh with a backward that is off by a factor `error`: the check must notice 1e-3.
  const auto wrong_tanh = [](double error) {
    return [error](const std::vector<Tensor>& in) {
      const Tensor y = oa::tanh(in[0].detach());
      const Tensor y_saved = y.detach();
      return oa::record(y, {&in[0]}, "wrong_tanh", [y_saved, error](const Tensor& g, const std::vector<bool>&) {
        const Tensor derivative = oa::add_scalar(oa::mul_scalar(oa::square(y_saved), -1.0), 1.0);
        return std::vector<Tensor>{oa::mul_scalar(oa::mul(g, derivative), 1.0 + error)};
      });
    };
  };
  std::mt19937 rng(64);
  const Tensor x = input({4, 5}, rng);
  CHECK(gradcheck::compare("exact tanh", wrong_tanh(0.0), {x}).empty());
  CHECK(gradcheck::compare("tanh off by 1e-3", wrong_tanh(1e-3), {x}).size() == 20);
}
