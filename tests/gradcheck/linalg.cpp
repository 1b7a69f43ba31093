// Gradient checks of matmul and linear.
#include "tests/gradcheck/gradcheck.h"

namespace {

using oa::Tensor;

Tensor input(const oa::Shape& shape, std::mt19937& rng, bool requires_grad = true) {
  Tensor x = gradcheck::uniform(shape, -1.0, 1.0, rng);
  x.set_requires_grad(requires_grad);
  return x;
}

Tensor matmul_fn(const std::vector<Tensor>& in) { return oa::matmul(in[0], in[1]); }
Tensor linear_fn(const std::vector<Tensor>& in) { return oa::linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor()); }

}  // namespace

TEST_CASE("gradcheck: matmul") {
  std::mt19937 rng(20);
  gradcheck::check("matmul [3, 4] @ [4, 5]", matmul_fn, {input({3, 4}, rng), input({4, 5}, rng)});
  gradcheck::check("matmul [1, 6] @ [6, 1]", matmul_fn, {input({1, 6}, rng), input({6, 1}, rng)});
  // Large enough (M*N*K > 2^18) for the CPU back end to split the rows across threads.
  gradcheck::check("matmul [64, 80] @ [80, 72]", matmul_fn, {input({64, 80}, rng), input({80, 72}, rng)});
  gradcheck::check("matmul, b frozen", matmul_fn, {input({3, 4}, rng), input({4, 5}, rng, false)});
  gradcheck::check("matmul, a frozen", matmul_fn, {input({3, 4}, rng, false), input({4, 5}, rng)});
}

TEST_CASE("gradcheck: linear") {
  std::mt19937 rng(21);
  gradcheck::check("linear with bias", linear_fn, {input({5, 4}, rng), input({3, 4}, rng), input({3}, rng)});
  gradcheck::check("linear without bias", linear_fn, {input({5, 4}, rng), input({3, 4}, rng)});
  gradcheck::check("linear, weight and bias frozen", linear_fn,
                   {input({5, 4}, rng), input({3, 4}, rng, false), input({3}, rng, false)});
  gradcheck::check("linear, input frozen", linear_fn,
                   {input({5, 4}, rng, false), input({3, 4}, rng), input({3}, rng)});
  gradcheck::check("linear [70, 90] -> 80", linear_fn,
                   {input({70, 90}, rng), input({80, 90}, rng), input({80}, rng)});
}
