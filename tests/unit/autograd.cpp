// Autograd behaviour: recording switches, freeing of the graph, gradient accumulation,
// which tensors keep gradients, and that frozen parameters cost no gradient kernels.
#include <doctest/doctest.h>

#include <limits>
#include <random>
#include <vector>

#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/ops/ops.h"
#include "tests/unit/helpers.h"

using oa::Shape;
using oa::Tensor;
using test::f32;
using test::random_f32;

namespace {

Tensor leaf(const std::vector<float>& values) {
  Tensor x = f32(values, {static_cast<std::int64_t>(values.size())});
  x.set_requires_grad();
  return x;
}

// conv(3x3, padding 1) -> batch_norm2d (eval) -> relu -> flatten -> linear, on [2, 3, 6, 6].
struct SmallNet {
  std::mt19937 rng{7};
  Tensor conv_w = random_f32({4, 3, 3, 3}, rng), conv_b = random_f32({4}, rng);
  Tensor gamma = random_f32({4}, rng), beta = random_f32({4}, rng);
  Tensor running_mean = random_f32({4}, rng), running_var = oa::add_scalar(oa::abs(random_f32({4}, rng)), 0.5);
  Tensor fc_w = random_f32({5, 4 * 6 * 6}, rng), fc_b = random_f32({5}, rng);

  std::vector<Tensor*> parameters() { return {&conv_w, &conv_b, &gamma, &beta, &fc_w, &fc_b}; }
  void set_trainable(bool trainable) {
    for (Tensor* p : parameters()) {
      p->zero_grad();
      p->set_requires_grad(trainable);
    }
  }
  Tensor forward(const Tensor& x) {
    Tensor h = oa::conv2d(x, conv_w, conv_b, 1, 1);
    h = oa::relu(oa::batch_norm2d(h, gamma, beta, running_mean, running_var, false));
    return oa::linear(h.flatten(), fc_w, fc_b);
  }
};

// Runs forward, then counts the kernels of backward alone.
void forward_then_counted_backward(SmallNet& net, const Tensor& x) {
  const Tensor loss = oa::sum(net.forward(x));
  oa::backend::reset_kernel_calls();
  loss.backward();
}

}  // namespace

TEST_CASE("autograd: ops record a node only when an input requires grad") {
  Tensor x = leaf({1, 2});
  const Tensor y = oa::exp(x);
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->name() == "exp");

  const Tensor c = oa::exp(f32({1, 2}, {2}));
  CHECK_FALSE(c.requires_grad());
  CHECK(c.grad_fn() == nullptr);
  CHECK(oa::add(c, y).requires_grad());  // one input requiring grad is enough
}

TEST_CASE("autograd: NoGradGuard records nothing inside its scope") {
  Tensor x = leaf({1, 2, 3});
  {
    oa::NoGradGuard guard;
    CHECK_FALSE(oa::grad_enabled());
    const Tensor y = oa::mul(oa::exp(x), x);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    CHECK_FALSE(x.reshape({3, 1}).requires_grad());
    {
      oa::NoGradGuard nested;
    }
    CHECK_FALSE(oa::grad_enabled());  // the inner guard restores "off", not "on"
  }
  CHECK(oa::grad_enabled());
  CHECK(oa::exp(x).requires_grad());
}

TEST_CASE("autograd: the graph is freed after backward") {
  Tensor x = leaf({1, 2, 3});
  const Tensor h = oa::exp(x);
  const Tensor loss = oa::sum(oa::mul(h, h));
  loss.backward();
  std::string message;
  try {
    loss.backward();
  } catch (const oa::Error& e) {
    message = e.what();
  }
  CAPTURE(message);
  CHECK(message.find("freed") != std::string::npos);

  // A new branch on the freed part of the graph fails the same way.
  CHECK_THROWS_AS(oa::sum(h).backward(), oa::Error);
}

TEST_CASE("autograd: leaf gradients accumulate across backward calls") {
  Tensor x = leaf({1, 2, 3});
  const auto loss = [&] { return oa::sum(oa::mul(x, x)); };  // d/dx = 2x
  loss().backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{2, 4, 6});
  loss().backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{4, 8, 12});
  x.zero_grad();
  loss().backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{2, 4, 6});
}

TEST_CASE("autograd: backward with an explicit output gradient; non-leaf and frozen tensors keep no grad") {
  Tensor x = leaf({1, 2, 3});
  const Tensor frozen = f32({4, 5, 6}, {3});
  const Tensor h = oa::mul(x, frozen);
  const Tensor y = oa::mul_scalar(h, 2);
  y.backward(f32({1, 0, -1}, {3}));
  CHECK(x.grad().to_vector<float>() == std::vector<float>{8, 0, -12});
  CHECK_FALSE(h.grad().defined());
  CHECK_FALSE(y.grad().defined());
  CHECK_FALSE(frozen.grad().defined());
}

TEST_CASE("autograd: gradients flow back through reshape views") {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {2, 3});
  x.set_requires_grad();
  const Tensor w = f32({1, 10, 100, 1000, 1e4f, 1e5f}, {3, 2});
  oa::sum(oa::mul(x.reshape({3, 2}), w)).backward();
  CHECK(x.grad().shape() == Shape{2, 3});
  CHECK(x.grad().to_vector<float>() == w.to_vector<float>());
}

TEST_CASE("autograd: broadcast backward on large tensors (multi-threaded kernels)") {
  // L = sum(x * b) with b [3, 1, 1] broadcast over x [32, 3, 24, 24]:
  // dL/dx = b at every element of channel c, dL/db[c] = the sum of x over channel c.
  std::mt19937 rng(11);
  Tensor x = random_f32({32, 3, 24, 24}, rng);
  Tensor b = f32({0.5f, -2.0f, 3.0f}, {3, 1, 1});
  x.set_requires_grad();
  b.set_requires_grad();
  oa::sum(oa::mul(x, b)).backward();
  const auto gx = x.grad().to_vector<float>(), vx = x.to_vector<float>();
  std::vector<double> channel_sums(3, 0.0);
  bool gx_ok = true;
  for (std::size_t i = 0; i < vx.size(); ++i) {
    const std::size_t c = (i / (24 * 24)) % 3;
    gx_ok = gx_ok && gx[i] == b.at({static_cast<std::int64_t>(c), 0, 0});
    channel_sums[c] += vx[i];
  }
  CHECK(gx_ok);
  for (std::int64_t c = 0; c < 3; ++c) CHECK(b.grad().at({c, 0, 0}) == doctest::Approx(channel_sums[c]).epsilon(1e-4));
}

TEST_CASE("autograd: backward from a leaf itself") {
  Tensor x = leaf({3});
  x.backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{1});
}

TEST_CASE("autograd: frozen parameters run no weight-gradient kernels (input gradient only)") {
  SmallNet net;
  std::mt19937 rng(8);
  Tensor x = random_f32({2, 3, 6, 6}, rng);
  x.set_requires_grad();

  net.set_trainable(false);
  forward_then_counted_backward(net, x);
  CHECK(x.grad().defined());
  CHECK(x.grad().shape() == x.shape());
  for (Tensor* p : net.parameters()) CHECK_FALSE(p->grad().defined());
  CHECK(oa::backend::kernel_calls("conv2d_backward_input") == 1);
  CHECK(oa::backend::kernel_calls("conv2d_backward_weight") == 0);
  CHECK(oa::backend::kernel_calls("conv2d_backward_bias") == 0);
  CHECK(oa::backend::kernel_calls("batch_norm2d_eval_backward_weight") == 0);  // eval batch norm's gamma/beta gradients
  CHECK(oa::backend::kernel_calls("sum_rows") == 0);      // linear's bias gradient
  CHECK(oa::backend::kernel_calls("matmul") == 1);        // linear: dx = dy @ W only

  net.set_trainable(true);
  x.zero_grad();
  forward_then_counted_backward(net, x);
  CHECK(x.grad().defined());
  for (Tensor* p : net.parameters()) CHECK(p->grad().defined());
  CHECK(oa::backend::kernel_calls("conv2d_backward_input") == 1);
  CHECK(oa::backend::kernel_calls("conv2d_backward_weight") == 1);
  CHECK(oa::backend::kernel_calls("conv2d_backward_bias") == 1);
  CHECK(oa::backend::kernel_calls("batch_norm2d_eval_backward_weight") == 1);
  CHECK(oa::backend::kernel_calls("sum_rows") == 1);
  CHECK(oa::backend::kernel_calls("matmul") == 2);  // dx and dW
}

TEST_CASE("autograd: an input that needs no gradient runs no input-gradient kernel") {
  SmallNet net;
  std::mt19937 rng(9);
  const Tensor data = random_f32({2, 3, 6, 6}, rng);  // training on data: only weights need grads
  net.set_trainable(true);
  forward_then_counted_backward(net, data);
  CHECK(oa::backend::kernel_calls("conv2d_backward_input") == 0);
  CHECK(oa::backend::kernel_calls("conv2d_backward_weight") == 1);
  CHECK_FALSE(data.grad().defined());
}

TEST_CASE("autograd: linear with a frozen weight computes only the input gradient") {
  std::mt19937 rng(10);
  Tensor x = random_f32({4, 3}, rng);
  x.set_requires_grad();
  Tensor w = random_f32({2, 3}, rng);
  const Tensor loss = oa::sum(oa::linear(x, w));
  oa::backend::reset_kernel_calls();
  loss.backward();
  CHECK(oa::backend::kernel_calls("matmul") == 1);
  CHECK(x.grad().defined());
  CHECK_FALSE(w.grad().defined());

  // The same for matmul.
  const Tensor loss2 = oa::sum(oa::matmul(x, oa::transpose(w)));
  oa::backend::reset_kernel_calls();
  loss2.backward();
  CHECK(oa::backend::kernel_calls("matmul") == 1);
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("autograd: conventions at kinks and ties (as in PyTorch)") {
  // grad of sum(f(x)) for x = [-1, 0, 2]
  const auto grad_of = [](Tensor (*f)(const Tensor&)) {
    Tensor x = leaf({-1, 0, 2});
    oa::sum(f(x)).backward();
    return x.grad().to_vector<float>();
  };
  CHECK(grad_of(oa::relu) == std::vector<float>{0, 0, 1});  // relu'(0) = 0
  {  // relu passes the gradient of a NaN on, as PyTorch's threshold_backward does
    Tensor x = leaf({std::numeric_limits<float>::quiet_NaN(), -1});
    oa::sum(oa::relu(x)).backward();
    CHECK(x.grad().to_vector<float>() == std::vector<float>{1, 0});
  }
  CHECK(grad_of(oa::abs) == std::vector<float>{-1, 0, 1});  // abs'(0) = 0
  // Values at the clamp bounds count as inside.
  CHECK(grad_of([](const Tensor& x) { return oa::clamp(x, -1, 2); }) == std::vector<float>{1, 1, 1});

  // Ties: the first maximum gets the whole gradient.
  Tensor a = leaf({1, 3, 3}), b = leaf({1, 0, 3});
  oa::sum(oa::maximum(a, b)).backward();
  CHECK(a.grad().to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(b.grad().to_vector<float>() == std::vector<float>{0, 0, 0});

  Tensor m = f32({2, 5, 5, 1}, {1, 4});
  m.set_requires_grad();
  oa::sum(oa::max(m, 1)).backward();
  CHECK(m.grad().to_vector<float>() == std::vector<float>{0, 1, 0, 0});

  Tensor p = f32({7, 7, 7, 7}, {1, 1, 2, 2});
  p.set_requires_grad();
  oa::sum(oa::max_pool2d(p, 2, 2)).backward();
  CHECK(p.grad().to_vector<float>() == std::vector<float>{1, 0, 0, 0});

  Tensor z = f32({1, 4, 4}, {1, 3});  // label 0: the runner-up is the first of the tied 4s
  z.set_requires_grad();
  oa::sum(oa::margin(z, test::labels({0}))).backward();
  CHECK(z.grad().to_vector<float>() == std::vector<float>{1, -1, 0});
}
