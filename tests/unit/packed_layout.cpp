// Packed layouts (core/storage.h): a oneDNN convolution leaves its output in oneDNN's blocked
// layout, elementwise ops keep it, the next convolution reads it as it is, and everything else
// sees row-major values. Each case runs a small network twice, with the oneDNN engine (packed
// hand-overs) and with our im2col engine (row-major throughout), and compares the values.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "framework/backend/cpu/elementwise.h"
#include "framework/ops/ops.h"
#include "framework/util/runtime.h"
#include "tests/unit/helpers.h"

using oa::CpuConvEngine;
using oa::Tensor;

namespace {

// Sets the CPU convolution engine for one scope.
class EngineScope {
 public:
  explicit EngineScope(CpuConvEngine engine) { oa::set_cpu_conv_engine(engine); }
  ~EngineScope() { oa::set_cpu_conv_engine(CpuConvEngine::automatic); }
};

void check_close(const Tensor& actual, const Tensor& expected, const char* what) {
  REQUIRE(actual.shape() == expected.shape());
  const auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - e[i]));
    scale = std::max(scale, std::abs(e[i]));
  }
  INFO(what, ": max diff ", diff, " of max ", scale);
  CHECK(scale > 0);
  CHECK(diff <= 1e-5 * scale);
}

// A residual block as in models/resnet.cpp with BN folded: relu(conv(relu(conv(x) + b1)) + b2 + x).
struct Block {
  Tensor w1, b1, w2, b2;
  explicit Block(std::mt19937& rng, std::int64_t channels)
      : w1(test::random_f32({channels, channels, 3, 3}, rng)), b1(test::random_f32({channels}, rng)),
        w2(test::random_f32({channels, channels, 3, 3}, rng)), b2(test::random_f32({channels}, rng)) {}
  Tensor inner(const Tensor& x) const { return oa::relu(oa::conv2d(x, w1, b1, 1, 1)); }
  Tensor operator()(const Tensor& x) const { return oa::relu(oa::add(oa::conv2d(inner(x), w2, b2, 1, 1), x)); }
};

}  // namespace

TEST_CASE("packed layout: a convolution's output is packed, reads row-major, and a view unpacks it") {
  std::mt19937 rng(1);
  const Tensor x = test::random_f32({4, 16, 9, 9}, rng), w = test::random_f32({16, 16, 3, 3}, rng);
  Tensor expected;
  {
    EngineScope scope(CpuConvEngine::im2col);
    expected = oa::conv2d(x, w, Tensor(), 1, 1);
    CHECK(expected.packed_layout() == nullptr);
  }
  const Tensor y = oa::conv2d(x, w, Tensor(), 1, 1);
  REQUIRE(y.packed_layout() != nullptr);  // 16 channels: the blocked form has as many elements
  const Tensor view = y.flatten();
  CHECK(view.packed_layout() == nullptr);  // another shape: not a packed tensor
  check_close(view.reshape(y.shape()), expected, "through a view");
  CHECK(y.packed_layout() == nullptr);  // the access above converted the storage for good
  check_close(y, expected, "the tensor itself");
}

TEST_CASE("packed layout: channels that do not fill a block stay row-major") {
  std::mt19937 rng(2);
  const Tensor x = test::random_f32({2, 16, 6, 6}, rng), w = test::random_f32({3, 16, 3, 3}, rng);
  CHECK(oa::conv2d(x, w, Tensor(), 1, 1).packed_layout() == nullptr);
}

TEST_CASE("packed layout: elementwise ops keep it, packing a row-major operand to match") {
  std::mt19937 rng(3);
  const Tensor x = test::random_f32({2, 32, 5, 5}, rng), w = test::random_f32({32, 32, 1, 1}, rng);
  const Tensor other = test::random_f32({2, 32, 5, 5}, rng);
  Tensor expected_relu, expected_sum;
  {
    EngineScope scope(CpuConvEngine::im2col);
    const Tensor y = oa::conv2d(x, w);
    expected_relu = oa::relu(y);
    expected_sum = oa::add(y, other);
  }
  const Tensor y = oa::conv2d(x, w);
  const Tensor r = oa::relu(y), s = oa::add(y, other), s_swapped = oa::add(other, y);
  CHECK(r.packed_layout() != nullptr);
  CHECK(s.packed_layout() != nullptr);
  CHECK(s_swapped.packed_layout() != nullptr);
  CHECK(other.packed_layout() == nullptr);  // the row-major operand was packed into a copy
  CHECK(y.packed_layout() != nullptr);      // and no operand was converted in place
  check_close(r, expected_relu, "relu");
  check_close(s, expected_sum, "conv + row-major");
  check_close(s_swapped, expected_sum, "row-major + conv");
  // Broadcasting is row-major: the packed operand is converted.
  const Tensor bias = test::random_f32({1, 32, 1, 1}, rng);
  const Tensor broadcast = oa::add(r, bias);
  CHECK(broadcast.packed_layout() == nullptr);
  check_close(broadcast, oa::add(expected_relu, bias), "broadcast");
}

TEST_CASE("packed layout: an elementwise kernel packs only when at least half its operands are packed") {
  std::mt19937 rng(6);
  const Tensor x = test::random_f32({2, 16, 4, 4}, rng), w = test::random_f32({16, 16, 1, 1}, rng);
  const Tensor packed_a = oa::conv2d(x, w), packed_b = oa::conv2d(x, w);
  const Tensor plain_a = test::random_f32({2, 16, 4, 4}, rng), plain_b = test::random_f32({2, 16, 4, 4}, rng);
  auto writes_packed = [](std::initializer_list<const Tensor*> operands) {
    Tensor out = oa::empty_like(*operands.begin()[0]);
    oa::cpu::ElementOrder order(operands, out);
    for (const Tensor* t : operands) order.in<float>(*t);
    order.out<float>(out);
    return out.packed_layout() != nullptr;
  };
  CHECK(writes_packed({&packed_a}));
  CHECK(writes_packed({&packed_a, &plain_a}));
  CHECK(writes_packed({&plain_a, &packed_a, &packed_b}));
  CHECK_FALSE(writes_packed({&plain_a, &plain_b, &packed_a}));  // e.g. ReLU's backward in training
  CHECK_FALSE(writes_packed({&plain_a, &plain_b}));
  CHECK(packed_a.packed_layout() == nullptr);  // read row-major by the case above: converted
  CHECK(packed_b.packed_layout() != nullptr);
}

TEST_CASE("packed layout: residual blocks hand packed activations over, forward and backward") {
  std::mt19937 rng(4);
  const Block first(rng, 16), second(rng, 16);
  const Tensor x0 = test::random_f32({3, 16, 8, 8}, rng);
  const Tensor upstream = test::random_f32({3, 16, 8, 8}, rng);

  bool out_packed = false;
  auto run = [&](Tensor& out, Tensor& grad) {
    Tensor x = x0.clone();
    x.set_requires_grad();
    out = second(first(x));
    out_packed = out.packed_layout() != nullptr;
    oa::sum(oa::mul(out, upstream)).backward();
    grad = x.grad();
  };
  Tensor expected_out, expected_grad;
  {
    EngineScope scope(CpuConvEngine::im2col);
    run(expected_out, expected_grad);
  }
  // The activation between the two convolutions of a block is consumed as it is stored.
  const Tensor hidden = first.inner(x0);
  REQUIRE(hidden.packed_layout() != nullptr);
  const Tensor next = oa::conv2d(hidden, first.w2, first.b2, 1, 1);
  CHECK(hidden.packed_layout() != nullptr);
  CHECK(next.packed_layout() != nullptr);

  Tensor out, grad;
  run(out, grad);
  CHECK(out_packed);
  check_close(out, expected_out, "output");
  check_close(grad, expected_grad, "input gradient");
}

TEST_CASE("packed layout: threads converting one storage at once all read the same values") {
  std::mt19937 rng(5);
  const Tensor x = test::random_f32({8, 16, 12, 12}, rng), w = test::random_f32({16, 16, 3, 3}, rng);
  std::vector<float> expected;
  {
    EngineScope scope(CpuConvEngine::im2col);
    expected = oa::conv2d(x, w, Tensor(), 1, 1).to_vector<float>();
  }
  const Tensor y = oa::conv2d(x, w, Tensor(), 1, 1);
  REQUIRE(y.packed_layout() != nullptr);
  std::vector<std::vector<float>> seen(4);
  std::vector<std::thread> threads;
  for (auto& values : seen) threads.emplace_back([&y, &values] { values = y.to_vector<float>(); });
  for (auto& t : threads) t.join();
  for (const auto& values : seen) {
    REQUIRE(values.size() == expected.size());
    double diff = 0;
    for (std::size_t i = 0; i < values.size(); ++i) diff = std::max(diff, double(std::abs(values[i] - expected[i])));
    CHECK(diff < 1e-4);
  }
}
