// Every op of framework/ops/ops.h that runs on CUDA, forward and backward, in float32 and
// float64: CUDA result against the CPU result on the same inputs (cuda_compare.h).
// Inputs are continuous random values, so no ReLU, abs, clamp, max or max-pool input sits on
// a kink or a tie, and both devices see the very same values: their branches agree.
#include <doctest/doctest.h>

#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tests/cuda/cuda_compare.h"

using namespace cuda_test;

namespace {

struct UnaryCase {
  const char* name;
  Tensor (*op)(const Tensor&);
  double lo, hi;  // the input range: positive where the op needs it
};

const UnaryCase kUnary[] = {
    {"neg", [](const Tensor& x) { return oa::neg(x); }, -2, 2},
    {"exp", [](const Tensor& x) { return oa::exp(x); }, -2, 2},
    {"log", [](const Tensor& x) { return oa::log(x); }, 0.1, 3},
    {"tanh", [](const Tensor& x) { return oa::tanh(x); }, -2, 2},
    {"abs", [](const Tensor& x) { return oa::abs(x); }, -2, 2},
    {"sqrt", [](const Tensor& x) { return oa::sqrt(x); }, 0.1, 3},
    {"square", [](const Tensor& x) { return oa::square(x); }, -2, 2},
    {"relu", [](const Tensor& x) { return oa::relu(x); }, -2, 2},
    {"sign", [](const Tensor& x) { return oa::sign(x); }, -2, 2},
    {"clamp(-0.5, 0.7)", [](const Tensor& x) { return oa::clamp(x, -0.5, 0.7); }, -2, 2},
    {"add_scalar(0.75)", [](const Tensor& x) { return oa::add_scalar(x, 0.75); }, -2, 2},
    {"mul_scalar(-1.5)", [](const Tensor& x) { return oa::mul_scalar(x, -1.5); }, -2, 2},
    {"pow_scalar(2.5)", [](const Tensor& x) { return oa::pow_scalar(x, 2.5); }, 0.1, 3},
    {"pow_scalar(-1.5)", [](const Tensor& x) { return oa::pow_scalar(x, -1.5); }, 0.5, 3},
};

struct BinaryCase {
  const char* name;
  Tensor (*op)(const Tensor&, const Tensor&);
  double b_lo, b_hi;  // div: a divisor away from 0
};

const BinaryCase kBinary[] = {
    {"add", [](const Tensor& a, const Tensor& b) { return oa::add(a, b); }, -1, 1},
    {"sub", [](const Tensor& a, const Tensor& b) { return oa::sub(a, b); }, -1, 1},
    {"mul", [](const Tensor& a, const Tensor& b) { return oa::mul(a, b); }, -1, 1},
    {"div", [](const Tensor& a, const Tensor& b) { return oa::div(a, b); }, 0.5, 2},
    {"maximum", [](const Tensor& a, const Tensor& b) { return oa::maximum(a, b); }, -1, 1},
    {"minimum", [](const Tensor& a, const Tensor& b) { return oa::minimum(a, b); }, -1, 1},
};

// Shape pairs: equal, one side broadcast along inner or leading dims, both sides broadcast.
const std::pair<Shape, Shape> kBroadcastShapes[] = {
    {{4, 3, 5}, {4, 3, 5}}, {{4, 3, 5}, {3, 1}}, {{4, 3, 5}, {1, 5}},    {{4, 3, 5}, {5}},
    {{3, 1}, {4, 3, 5}},    {{2, 1, 5}, {3, 1}}, {{64, 33}, {64, 1}},    {{1}, {7, 6}},
};

}  // namespace

TEST_CASE("cuda unary ops (neg exp log tanh abs sqrt square relu clamp add/mul/pow_scalar): forward and gradient") {
  for (DType dt : kFloatTypes)
    for (const auto& c : kUnary)
      for (const Shape& shape : {Shape{3, 4, 5}, Shape{1000, 17}}) {
        oa::Rng rng(1);
        check_op(tag(fmt::format("{} {}", c.name, oa::shape_str(shape)), dt), [&](auto& in) { return c.op(in[0]); },
                 {input(shape, dt, rng, c.lo, c.hi)});
      }
}

TEST_CASE("cuda binary ops (add sub mul div maximum) with broadcasting: forward and both gradients") {
  for (DType dt : kFloatTypes)
    for (const auto& c : kBinary)
      for (const auto& [sa, sb] : kBroadcastShapes) {
        oa::Rng rng(2);
        const std::string name = fmt::format("{} {} with {}", c.name, oa::shape_str(sa), oa::shape_str(sb));
        check_op(tag(name, dt), [&](auto& in) { return c.op(in[0], in[1]); },
                 {input(sa, dt, rng), input(sb, dt, rng, c.b_lo, c.b_hi)});
      }
}

TEST_CASE("cuda where with a per-row mask: forward and the gradients of both operands") {
  for (DType dt : kFloatTypes)
    for (const Shape& shape : {Shape{5, 3, 4}, Shape{300, 17}}) {
      oa::Rng rng(3);
      std::vector<double> flags(static_cast<std::size_t>(shape[0]));
      for (std::size_t i = 0; i < flags.size(); ++i) flags[i] = i % 3 == 0 ? 0.0 : 1.0;
      const Tensor mask = Tensor::from_vector(flags, {shape[0]}).to(dt);
      check_op(tag("where " + oa::shape_str(shape), dt), [](auto& in) { return oa::where(in[0], in[1], in[2]); },
               {mask, input(shape, dt, rng), input(shape, dt, rng)});
    }
}

TEST_CASE("cuda sum and mean over dims, with and without keepdim, and sum_to") {
  const std::vector<std::int64_t> dim_sets[] = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {1, 2}, {0, 1, 2}};
  for (DType dt : kFloatTypes) {
    for (const auto& dims : dim_sets)
      for (bool keepdim : {false, true}) {
        oa::Rng rng(3);
        const std::string what = fmt::format("over dims [{}] keepdim {}", fmt::join(dims, ", "), keepdim);
        const Tensor x = input({4, 3, 5}, dt, rng);
        check_op(tag("sum " + what, dt), [&](auto& in) { return oa::sum(in[0], dims, keepdim); }, {x});
        check_op(tag("mean " + what, dt), [&](auto& in) { return oa::mean(in[0], dims, keepdim); }, {x});
      }
    // Long reductions: many blocks, and a reduced dim in the middle.
    oa::Rng rng(4);
    check_op(tag("sum of [257, 129]", dt), [](auto& in) { return oa::sum(in[0]); }, {input({257, 129}, dt, rng)});
    check_op(tag("sum of [3, 1000, 7] over dim 1", dt), [](auto& in) { return oa::sum(in[0], {1}); },
             {input({3, 1000, 7}, dt, rng)});
    check_op(tag("mean of [3, 1000, 7] over dims 0 and 2", dt), [](auto& in) { return oa::mean(in[0], {0, 2}); },
             {input({3, 1000, 7}, dt, rng)});
    check_op(tag("sum_to [4, 3, 5] -> [3, 1]", dt), [](auto& in) { return oa::sum_to(in[0], {3, 1}); },
             {input({4, 3, 5}, dt, rng)});
  }
}

TEST_CASE("cuda max over one dim, with and without keepdim: values and the gradient to the argmax") {
  for (DType dt : kFloatTypes)
    for (std::int64_t dim : {0, 1, 2, -1})
      for (bool keepdim : {false, true}) {
        oa::Rng rng(5);
        check_op(tag(fmt::format("max [4, 3, 5] over dim {} keepdim {}", dim, keepdim), dt),
                 [&](auto& in) { return oa::max(in[0], dim, keepdim); }, {input({4, 3, 5}, dt, rng)});
        check_op(tag(fmt::format("max [64, 300, 3] over dim {} keepdim {}", dim, keepdim), dt),
                 [&](auto& in) { return oa::max(in[0], dim, keepdim); }, {input({64, 300, 3}, dt, rng)});
      }
}

TEST_CASE("cuda transpose, matmul and linear (with and without bias): forward and every gradient") {
  const std::array<std::int64_t, 3> matmul_sizes[] = {{4, 6, 5}, {1, 8, 1}, {33, 70, 17}, {128, 64, 96}};  // M, K, N
  for (DType dt : kFloatTypes) {
    oa::Rng rng(6);
    for (const Shape& s : {Shape{3, 5}, Shape{64, 33}})
      check_op(tag("transpose " + oa::shape_str(s), dt), [](auto& in) { return oa::transpose(in[0]); },
               {input(s, dt, rng)});
    for (const auto& [m, k, n] : matmul_sizes)
      check_op(tag(fmt::format("matmul [{}, {}] @ [{}, {}]", m, k, k, n), dt),
               [](auto& in) { return oa::matmul(in[0], in[1]); }, {input({m, k}, dt, rng), input({k, n}, dt, rng)});
    for (const auto& [batch, in_f, out_f] : {std::array<std::int64_t, 3>{5, 7, 4}, {32, 100, 10}}) {
      const std::string shapes = fmt::format("x [{}, {}], w [{}, {}]", batch, in_f, out_f, in_f);
      const Tensor x = input({batch, in_f}, dt, rng), w = input({out_f, in_f}, dt, rng), b = input({out_f}, dt, rng);
      check_op(tag("linear with bias, " + shapes, dt), [](auto& in) { return oa::linear(in[0], in[1], in[2]); },
               {x, w, b});
      check_op(tag("linear without bias, " + shapes, dt), [](auto& in) { return oa::linear(in[0], in[1]); }, {x, w});
    }
  }
}

TEST_CASE("cuda conv2d and conv2d_relu: kernels 1/3/7, stride 1/2, padding 0/1/3, groups 1/2, with and without bias") {
  struct ConvCase {
    std::int64_t batch, in_channels, size, out_channels, kernel, stride, padding, groups;
    bool bias;
  };
  const ConvCase cases[] = {
      {2, 3, 9, 4, 3, 1, 1, 1, true},     // 3x3 "same"
      {2, 3, 9, 4, 3, 2, 1, 1, false},    // 3x3 stride 2 (a ResNet downsampling conv)
      {2, 3, 9, 4, 3, 1, 0, 1, false},    // no padding
      {2, 4, 9, 6, 3, 1, 1, 2, true},     // 2 groups
      {2, 4, 10, 4, 3, 2, 0, 2, false},   // 2 groups, stride 2, even size
      {2, 3, 8, 5, 1, 1, 0, 1, true},     // 1x1
      {2, 4, 8, 6, 1, 2, 0, 1, false},    // 1x1 stride 2 (a ResNet shortcut)
      {2, 3, 16, 8, 7, 2, 3, 1, false},   // 7x7 stride 2 padding 3 (the ImageNet stem)
      {1, 2, 11, 3, 7, 1, 0, 1, true},    // 7x7 without padding
      {2, 32, 8, 32, 3, 1, 1, 1, false},  // more channels: other cuDNN algorithms
  };
  for (DType dt : kFloatTypes)
    for (const auto& c : cases) {
      oa::Rng rng(7);
      const std::string name =
          fmt::format("conv2d x [{}, {}, {}, {}] w [{}, {}, {}, {}] stride {} padding {} groups {} {}", c.batch,
                      c.in_channels, c.size, c.size, c.out_channels, c.in_channels / c.groups, c.kernel, c.kernel,
                      c.stride, c.padding, c.groups, c.bias ? "bias" : "no bias");
      std::vector<Tensor> inputs{input({c.batch, c.in_channels, c.size, c.size}, dt, rng),
                                 input({c.out_channels, c.in_channels / c.groups, c.kernel, c.kernel}, dt, rng)};
      if (c.bias) inputs.push_back(input({c.out_channels}, dt, rng));
      check_op(tag(name, dt),
               [&](auto& in) {
                 return oa::conv2d(in[0], in[1], c.bias ? in[2] : Tensor(), c.stride, c.padding, c.groups);
               },
               inputs);
      // With a bias: cudnnConvolutionBiasActivationForward; without: the convolution, then a ReLU.
      check_op(tag(name + ", fused ReLU", dt),
               [&](auto& in) {
                 return oa::conv2d_relu(in[0], in[1], c.bias ? in[2] : Tensor(), c.stride, c.padding, c.groups);
               },
               inputs);
    }
}

TEST_CASE("cuda batch_norm2d in training and eval mode, with and without affine: output, gradients, running stats") {
  for (DType dt : kFloatTypes)
    for (bool training : {true, false})
      for (bool affine : {true, false}) {
        oa::Rng rng(8);
        const std::int64_t channels = 4;
        // Inputs with a nonzero mean and a variance away from 1, so that normalising matters.
        std::vector<Tensor> inputs{input({3, channels, 5, 5}, dt, rng, -1, 3),
                                   constant({channels}, dt, rng, -0.5, 0.5),  // running mean
                                   constant({channels}, dt, rng, 0.5, 1.5)};  // running var
        if (affine) {
          inputs.push_back(input({channels}, dt, rng, 0.5, 1.5));   // gamma
          inputs.push_back(input({channels}, dt, rng, -0.5, 0.5));  // beta
        }
        const std::string name = fmt::format("batch_norm2d {} {}", training ? "training" : "eval",
                                             affine ? "with gamma and beta" : "without gamma and beta");
        const BothDevices both = check_op(tag(name, dt),
                                          [&](auto& in) {
                                            return oa::batch_norm2d(in[0], affine ? in[3] : Tensor(),
                                                                    affine ? in[4] : Tensor(), in[1], in[2], training,
                                                                    0.1, 1e-5);
                                          },
                                          inputs);
        // Training updates the running statistics in place; eval leaves them as they were.
        expect_close(tag(name + ": running mean after the step", dt), both.cuda[1], both.cpu[1]);
        expect_close(tag(name + ": running var after the step", dt), both.cuda[2], both.cpu[2]);
      }
}

TEST_CASE("cuda max_pool2d and avg_pool2d (overlapping k3 s2 p1, k2 s2, k3 s1 p1) and global_avg_pool2d") {
  const std::array<std::int64_t, 3> windows[] = {{3, 2, 1}, {2, 2, 0}, {3, 1, 1}, {3, 2, 0}};  // kernel, stride, padding
  for (DType dt : kFloatTypes)
    for (const Shape& shape : {Shape{2, 3, 9, 9}, Shape{2, 3, 8, 8}}) {
      oa::Rng rng(9);
      const Tensor x = input(shape, dt, rng);
      for (const auto& [k, s, p] : windows) {
        const std::string window = fmt::format("{} k{} s{} p{}", oa::shape_str(shape), k, s, p);
        check_op(tag("max_pool2d " + window, dt), [&](auto& in) { return oa::max_pool2d(in[0], k, s, p); }, {x});
        check_op(tag("avg_pool2d " + window, dt), [&](auto& in) { return oa::avg_pool2d(in[0], k, s, p); }, {x});
      }
      check_op(tag("global_avg_pool2d " + oa::shape_str(shape), dt),
               [](auto& in) { return oa::global_avg_pool2d(in[0]); }, {x});
    }
}

TEST_CASE("cuda log_softmax, cross_entropy (with label smoothing), gather, margin and one_hot") {
  for (DType dt : kFloatTypes)
    for (const auto& [n, classes] : {std::pair<std::int64_t, std::int64_t>{5, 7}, {64, 1000}}) {
      oa::Rng rng(10);
      const std::string shape = fmt::format(" [{}, {}]", n, classes);
      const Tensor logits = input({n, classes}, dt, rng, -3, 3), y = labels(n, classes, rng);
      check_op(tag("log_softmax" + shape, dt), [](auto& in) { return oa::log_softmax(in[0]); }, {logits});
      for (double smoothing : {0.0, 0.1})
        check_op(tag(fmt::format("cross_entropy{} label smoothing {}", shape, smoothing), dt),
                 [&](auto& in) { return oa::cross_entropy(in[0], in[1], smoothing); }, {logits, y});
      check_op(tag("gather" + shape, dt), [](auto& in) { return oa::gather(in[0], in[1]); }, {logits, y});
      check_op(tag("margin" + shape, dt), [](auto& in) { return oa::margin(in[0], in[1]); }, {logits, y});
      check_op(tag("one_hot" + shape, dt), [&](auto& in) { return oa::one_hot(in[0], classes, dt); }, {y});
    }
}

TEST_CASE("cuda gather, margin and one_hot: a label outside the classes gives NaN, never an out-of-bounds read") {
  // The host checks label ranges only on the CPU (a GPU check would wait for the device on
  // every call): on the GPU the kernels mark the row instead.
  oa::Rng rng(12);
  const Tensor logits = input({2, 3}, DType::Float32, rng, -3, 3).to(Device::CUDA);
  const Tensor bad = Tensor::from_vector<std::int64_t>({1, 3}, {2}).to(Device::CUDA);
  const auto gathered = oa::gather(logits, bad).to_vector<double>();
  CHECK_FALSE(std::isnan(gathered[0]));
  CHECK(std::isnan(gathered[1]));
  const auto margins = oa::margin(logits, bad).to_vector<double>();
  CHECK_FALSE(std::isnan(margins[0]));
  CHECK(std::isnan(margins[1]));
  const auto rows = oa::one_hot(bad, 3, DType::Float32).to_vector<double>();
  CHECK(rows[1] == 1.0);
  for (int j = 3; j < 6; ++j) CHECK(std::isnan(rows[j]));
}
