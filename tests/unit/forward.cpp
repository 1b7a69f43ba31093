// Forward values of the ops against hand-computed numbers or naive reference loops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "framework/backend/cpu/kernels.h"
#include "framework/backend/dispatch.h"
#include "framework/data/dataset.h"
#include "framework/nn/layers.h"
#include "framework/ops/conv2d_geometry.h"
#include "framework/ops/ops.h"
#include "tests/unit/helpers.h"

using oa::DType;
using oa::Shape;
using oa::Tensor;
using test::f32;
using test::labels;
using test::random_f32;

namespace {

// Elementwise comparison with a relative tolerance suited to float32.
void check_values(const Tensor& actual, const std::vector<double>& expected, double eps = 1e-5) {
  const auto v = actual.to_vector<double>();
  REQUIRE(v.size() == expected.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    CAPTURE(i);
    CHECK(v[i] == doctest::Approx(expected[i]).epsilon(eps));
  }
}

// conv2d by the CPU back end's reference kernel (the textbook seven loops), in float64.
std::vector<double> reference_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride,
                                     std::int64_t padding, std::int64_t groups) {
  const Tensor x64 = x.to(DType::Float64), w64 = w.to(DType::Float64);
  const Tensor b64 = b.defined() ? b.to(DType::Float64) : Tensor();
  const oa::backend::Conv2dGeometry g = oa::conv2d_geometry(x64, w.shape(), stride, padding, groups, "conv2d");
  Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_h, g.out_w}, DType::Float64);
  oa::cpu::conv2d_forward_reference(x64, w64, b.defined() ? &b64 : nullptr, y, g);
  return y.to_vector<double>();
}

// a [M, K] @ b [K, N] by the definition.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  std::vector<double> c;
  for (std::int64_t i = 0; i < a.size(0); ++i)
    for (std::int64_t j = 0; j < b.size(1); ++j) {
      double s = 0;
      for (std::int64_t k = 0; k < a.size(1); ++k) s += a.at({i, k}) * b.at({k, j});
      c.push_back(s);
    }
  return c;
}

// Pooling by the definition over [N, C, H, W]; padding is skipped by max and counted (as
// zeros) by the average.
std::vector<double> naive_pool2d(const Tensor& x, std::int64_t k, std::int64_t s, std::int64_t p, bool is_max) {
  const std::int64_t h = x.size(2), w = x.size(3);
  const std::int64_t oh_n = (h + 2 * p - k) / s + 1, ow_n = (w + 2 * p - k) / s + 1;
  const auto v = x.to_vector<double>();
  std::vector<double> y;
  for (std::int64_t nc = 0; nc < x.size(0) * x.size(1); ++nc)
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow) {
        double acc = is_max ? -INFINITY : 0.0;
        for (std::int64_t i = oh * s - p; i < oh * s - p + k; ++i)
          for (std::int64_t j = ow * s - p; j < ow * s - p + k; ++j) {
            if (i < 0 || i >= h || j < 0 || j >= w) continue;
            const double e = v[static_cast<std::size_t>((nc * h + i) * w + j)];
            acc = is_max ? std::max(acc, e) : acc + e;
          }
        y.push_back(is_max ? acc : acc / static_cast<double>(k * k));
      }
  return y;
}

}  // namespace

TEST_CASE("forward: conv2d matches the reference kernel") {
  struct Case {
    Shape x, w;
    std::int64_t stride, padding, groups;
    bool bias;
  };
  const Case cases[] = {
      {{2, 4, 5, 6}, {6, 2, 3, 3}, 2, 1, 2, true},  // stride 2, padding 1, groups 2
      {{2, 4, 5, 6}, {6, 4, 3, 3}, 1, 0, 1, false},
      {{2, 4, 5, 6}, {6, 2, 1, 1}, 1, 0, 2, true},  // pointwise (no im2col) with groups
      {{1, 3, 4, 5}, {2, 3, 3, 2}, 2, 1, 1, true},  // non-square kernel
      {{2, 2, 1, 2}, {3, 2, 3, 3}, 1, 1, 1, true},  // kernel wider than the input: padding only
      {{2, 3, 7, 7}, {4, 3, 7, 7}, 3, 3, 1, false}, // stride 3, padding 3: clipped rows and columns
  };
  std::mt19937 rng(1);
  for (const auto& c : cases) {
    const Tensor x = random_f32(c.x, rng), w = random_f32(c.w, rng);
    const Tensor b = c.bias ? random_f32({c.w[0]}, rng) : Tensor();
    const Tensor y = oa::conv2d(x, w, b, c.stride, c.padding, c.groups);
    const std::int64_t oh = (c.x[2] + 2 * c.padding - c.w[2]) / c.stride + 1;
    const std::int64_t ow = (c.x[3] + 2 * c.padding - c.w[3]) / c.stride + 1;
    CHECK(y.shape() == Shape{c.x[0], c.w[0], oh, ow});
    check_values(y, reference_conv2d(x, w, b, c.stride, c.padding, c.groups), 1e-4);
  }
}

TEST_CASE("forward: matmul and linear match the definition") {
  std::mt19937 rng(2);
  const Tensor a = random_f32({3, 4}, rng), b = random_f32({4, 2}, rng);
  check_values(oa::matmul(a, b), naive_matmul(a, b));
  // Large enough for the CPU back end to split the rows across threads.
  const Tensor big_a = random_f32({96, 70}, rng), big_b = random_f32({70, 50}, rng);
  check_values(oa::matmul(big_a, big_b), naive_matmul(big_a, big_b), 1e-4);

  // linear(x, w, b) = x @ w^T + b
  const Tensor x = f32({1, 2, 3, 4}, {2, 2});
  const Tensor w = f32({1, 0, 1, 1, 0, -1}, {3, 2});
  check_values(oa::linear(x, w, f32({10, 20, 30}, {3})), {11, 23, 28, 13, 27, 26});
  check_values(oa::linear(x, w), {1, 3, -2, 3, 7, -4});
  check_values(oa::transpose(w), {1, 1, 0, 0, 1, -1});
}

TEST_CASE("forward: elementwise ops and broadcasting") {
  const Tensor a = f32({1, -2, 3, -4, 5, -6}, {2, 3});
  check_values(oa::add(a, f32({10, 20, 30}, {3})), {11, 18, 33, 6, 25, 24});
  check_values(oa::sub(a, f32({1, 2}, {2, 1})), {0, -3, 2, -6, 3, -8});
  check_values(oa::mul(a, Tensor::scalar(2)), {2, -4, 6, -8, 10, -12});
  check_values(oa::div(f32({1, 2}, {2, 1}), f32({1, 2, 4}, {1, 3})), {1, 0.5, 0.25, 2, 1, 0.5});
  check_values(oa::maximum(a, Tensor::scalar(0)), {1, 0, 3, 0, 5, 0});
  check_values(oa::minimum(a, Tensor::scalar(0)), {0, -2, 0, -4, 0, -6});
  check_values(oa::sign(f32({-3, 0, 0.5}, {3})), {-1, 0, 1});
  check_values(oa::relu(a), {1, 0, 3, 0, 5, 0});
  check_values(oa::abs(a), {1, 2, 3, 4, 5, 6});
  check_values(oa::clamp(a, -3, 2), {1, -2, 2, -3, 2, -3});
  check_values(oa::pow_scalar(f32({4, 9}, {2}), 1.5), {8, 27});
  check_values(oa::add_scalar(oa::mul_scalar(a, 0.5), 1), {1.5, 0, 2.5, -1, 3.5, -2});
}

TEST_CASE("forward: sum, mean, max and sum_to") {
  const Tensor x = f32({1, 5, 3, 4, 2, 6}, {2, 3});
  CHECK(oa::sum(x).shape() == Shape{});
  CHECK(oa::sum(x).item() == 21);
  check_values(oa::sum(x, {0}), {5, 7, 9});
  CHECK(oa::sum(x, {1}, true).shape() == Shape{2, 1});
  check_values(oa::sum(x, {-1}, true), {9, 12});
  check_values(oa::mean(x, {1}), {3, 4});
  CHECK(oa::mean(x).item() == doctest::Approx(3.5));
  check_values(oa::max(x, 1), {5, 6});
  check_values(oa::max(x, 0), {4, 5, 6});
  CHECK(oa::max(x, 0, true).shape() == Shape{1, 3});
  check_values(oa::sum_to(x, {3}), {5, 7, 9});
  check_values(oa::sum_to(x, {2, 1}), {9, 12});
  check_values(oa::global_avg_pool2d(f32({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2})), {2.5, 25});
}

TEST_CASE("forward: large tensors (multi-threaded kernel paths) match naive loops") {
  std::mt19937 rng(3);
  const Tensor a = random_f32({32, 3, 24, 24}, rng);  // 55296 elements: above the parallel grain
  const Tensor b = random_f32({3, 1, 1}, rng);
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> sum_ab, relu_a, channel_sums(3, 0.0);
  for (std::size_t i = 0; i < va.size(); ++i) {
    const std::size_t c = (i / (24 * 24)) % 3;
    sum_ab.push_back(va[i] + vb[c]);
    relu_a.push_back(std::max(va[i], 0.0));
    channel_sums[c] += va[i];
  }
  check_values(oa::add(a, b), sum_ab);
  check_values(oa::relu(a), relu_a);
  check_values(oa::sum(a, {0, 2, 3}), channel_sums, 1e-4);
  check_values(oa::max_pool2d(a, 3, 2, 1), naive_pool2d(a, 3, 2, 1, true));
  check_values(oa::max_pool2d(a, 2, 2), naive_pool2d(a, 2, 2, 0, true));  // the CPU's 2x2 fast path
  check_values(oa::avg_pool2d(a, 3, 2, 1), naive_pool2d(a, 3, 2, 1, false));
  check_values(oa::avg_pool2d(a, 2, 2), naive_pool2d(a, 2, 2, 0, false));
}

TEST_CASE("forward: max_pool2d") {
  // 0 .. 15 in a 4 x 4 image: 2x2 windows with stride 2 take their bottom-right element.
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  const Tensor y = oa::max_pool2d(f32(v, {1, 1, 4, 4}), 2, 2);
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  check_values(y, {5, 7, 13, 15});

  // All values negative: the zero padding must never win. -1 - i at position i;
  // 3x3 windows, stride 2, padding 1 start at rows/cols -1 and 1.
  for (int i = 0; i < 16; ++i) v[i] = -1.0f - static_cast<float>(i);
  check_values(oa::max_pool2d(f32(v, {1, 1, 4, 4}), 3, 2, 1), {-1, -2, -5, -6});
}

TEST_CASE("forward: avg_pool2d counts the padding in the divisor") {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  check_values(oa::avg_pool2d(f32(v, {1, 1, 4, 4}), 2, 2), {2.5, 4.5, 10.5, 12.5});
  // Ones with 3x3 windows, stride 2, padding 1: the corner window covers 4 real cells,
  // the edge windows 6, the inner one 9; the divisor is always 9 (count_include_pad).
  check_values(oa::avg_pool2d(Tensor::ones({1, 1, 4, 4}), 3, 2, 1), {4.0 / 9, 6.0 / 9, 6.0 / 9, 1});
}

TEST_CASE("forward: log_softmax") {
  // Rows with small, moderate and huge logits: the last must not overflow, and float32
  // keeps full precision when the row maximum is subtracted before the log-sum-exp.
  const std::vector<float> z = {1, 2, 3, -1, 0, 4, 30, 31, 32, 1000, 1001, 1002};
  const Tensor y = oa::log_softmax(f32(z, {4, 3}));
  for (std::int64_t n = 0; n < 4; ++n) {
    CAPTURE(n);
    // y = (z - max) - log(sum(exp(z - max))), in double
    const double mx = z[3 * n + 2];  // each row is increasing
    double sum = 0, total = 0;
    for (std::int64_t c = 0; c < 3; ++c) sum += std::exp(z[3 * n + c] - mx);
    for (std::int64_t c = 0; c < 3; ++c) {
      CHECK(y.at({n, c}) == doctest::Approx(z[3 * n + c] - mx - std::log(sum)).epsilon(1e-6));
      total += std::exp(y.at({n, c}));
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-6));
  }
}

TEST_CASE("forward: cross_entropy with and without label smoothing") {
  const std::vector<double> z = {1, 2, 3, 0.5, -1, 2};  // [2, 3]
  const Tensor logits = Tensor::from_vector(z, {2, 3});
  const Tensor y = labels({2, 0});
  // log p[n, c] = z[n, c] - log sum_j exp(z[n, j])
  std::vector<double> log_p(6);
  for (int n = 0; n < 2; ++n) {
    const double lse = std::log(std::exp(z[3 * n]) + std::exp(z[3 * n + 1]) + std::exp(z[3 * n + 2]));
    for (int c = 0; c < 3; ++c) log_p[3 * n + c] = z[3 * n + c] - lse;
  }
  const double nll = -(log_p[2] + log_p[3]) / 2;
  CHECK(oa::cross_entropy(logits, y).item() == doctest::Approx(nll).epsilon(1e-12));

  // Smoothing eps: the target is (1 - eps) one_hot + eps / C.
  const double eps = 0.2;
  double smooth = 0;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c) {
      const double target = (c == (n == 0 ? 2 : 0) ? 1 - eps : 0) + eps / 3;
      smooth -= target * log_p[3 * n + c] / 2;
    }
  CHECK(oa::cross_entropy(logits, y, eps).item() == doctest::Approx(smooth).epsilon(1e-12));
  CHECK(oa::cross_entropy(logits, y, eps).shape() == Shape{});
}

TEST_CASE("forward: gather, one_hot and margin") {
  const Tensor z = f32({1, 3, 2, 5, 1, 4}, {2, 3});
  const Tensor y = labels({1, 2});
  check_values(oa::gather(z, y), {3, 4});
  const Tensor oh = oa::one_hot(y, 3, DType::Float64);
  CHECK(oh.dtype() == DType::Float64);
  check_values(oh, {0, 1, 0, 0, 0, 1});
  // margin = z[y] - max of the other logits: 3 - 2 (correct) and 4 - 5 (misclassified).
  check_values(oa::margin(z, y), {1, -1});
  check_values(oa::margin(z, labels({0, 0})), {-2, 1});
}

TEST_CASE("forward: NaN goes through relu, maximum, minimum, clamp, max, max_pool2d and margin (as in PyTorch)") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Which entries of a result are NaN.
  const auto nans = [](const Tensor& t) {
    std::vector<bool> out;
    for (const float v : t.to_vector<float>()) out.push_back(std::isnan(v));
    return out;
  };
  const Tensor x = f32({nan, -1, 2}, {3});
  CHECK(nans(oa::relu(x)) == std::vector<bool>{true, false, false});
  CHECK(nans(oa::clamp(x, 0, 1)) == std::vector<bool>{true, false, false});
  const Tensor zeros = f32({0, 0, 0}, {3});
  for (const auto& [a, b] : {std::pair{x, zeros}, std::pair{zeros, x}}) {  // NaN as either operand
    CHECK(nans(oa::maximum(a, b)) == std::vector<bool>{true, false, false});
    CHECK(nans(oa::minimum(a, b)) == std::vector<bool>{true, false, false});
  }
  // max over a row with a NaN after its maximum: NaN, at the NaN's index.
  const Tensor rows = f32({1, 3, nan, 2, 4, 0}, {2, 3});
  CHECK(nans(oa::max(rows, 1)) == std::vector<bool>{true, false});
  // a 2x2 plane pooled whole: the NaN in its second place is the result
  CHECK(nans(oa::max_pool2d(f32({1, nan, 3, 4}, {1, 1, 2, 2}), 2, 2)) == std::vector<bool>{true});
  // margin: a NaN among the other logits (not the first) makes the margin NaN
  CHECK(nans(oa::margin(f32({5, 1, nan, 2}, {1, 4}), labels({0}))) == std::vector<bool>{true});
}

TEST_CASE("forward: batch_norm2d training uses batch statistics and updates the running ones") {
  // x [N=2, C=2, H=1, W=2]: channel 0 holds 1, 2, 3, 6 (mean 3, biased var 14/4, unbiased 14/3);
  // channel 1 holds 0, 0, 2, -2 (mean 0, biased var 2, unbiased 8/3).
  const Tensor x = f32({1, 2, 0, 0, 3, 6, 2, -2}, {2, 2, 1, 2});
  const Tensor gamma = f32({2, 0.5}, {2}), beta = f32({0.1f, -0.3f}, {2});
  Tensor running_mean = f32({0.5, -1}, {2}), running_var = f32({1, 2}, {2});
  const double eps = 1e-5;
  const Tensor out = oa::batch_norm2d(x, gamma, beta, running_mean, running_var, true, 0.1, eps);

  // running = 0.9 * running + 0.1 * batch statistic (the variance unbiased)
  check_values(running_mean, {0.9 * 0.5 + 0.1 * 3, 0.9 * -1 + 0.1 * 0});
  check_values(running_var, {0.9 * 1 + 0.1 * 14.0 / 3, 0.9 * 2 + 0.1 * 8.0 / 3});

  // y = gamma * (x - mean) / sqrt(biased var + eps) + beta
  const double s0 = 2 / std::sqrt(3.5 + eps), s1 = 0.5 / std::sqrt(2 + eps);
  check_values(out, {(1 - 3) * s0 + 0.1, (2 - 3) * s0 + 0.1, 0 * s1 - 0.3, 0 * s1 - 0.3, (3 - 3) * s0 + 0.1,
                     (6 - 3) * s0 + 0.1, 2 * s1 - 0.3, -2 * s1 - 0.3});
}

TEST_CASE("forward: batch_norm2d eval uses the running statistics and leaves them alone") {
  const Tensor x = f32({1, 2, 0, 0, 3, 6, 2, -2}, {2, 2, 1, 2});
  const Tensor gamma = f32({2, 0.5}, {2}), beta = f32({0.1f, -0.3f}, {2});
  Tensor running_mean = f32({0.5, -1}, {2}), running_var = f32({1, 4}, {2});
  const Tensor out = oa::batch_norm2d(x, gamma, beta, running_mean, running_var, false, 0.1, 0.0);

  // y = gamma * (x - running_mean) / sqrt(running_var) + beta: scale 2 and 0.25
  check_values(out, {1.1, 3.1, -0.05, -0.05, 5.1, 11.1, 0.45, -0.55});
  check_values(running_mean, {0.5, -1});
  check_values(running_var, {1, 4});

  // Without gamma and beta the map is the plain standardisation.
  check_values(oa::batch_norm2d(x, Tensor(), Tensor(), running_mean, running_var, false, 0.1, 0.0),
               {0.5, 1.5, 0.5, 0.5, 2.5, 5.5, 1.5, -0.5});
}

// The CPU convolution groups several images into one GEMM when planes are small (see
// backend/cpu/conv2d.cpp). Whatever the grouping, each image's output and gradients must
// equal those of the image convolved on its own. 37 images leave a partial last block.
TEST_CASE("forward: conv2d over blocks of images equals per-image convolution") {
  std::mt19937 rng(11);
  struct Config {
    Shape x, w;
    std::int64_t stride, padding, groups;
  };
  for (const Config& c : {Config{{37, 8, 7, 7}, {12, 8, 3, 3}, 1, 1, 1}, Config{{37, 8, 9, 9}, {8, 4, 3, 3}, 2, 1, 2},
                          Config{{37, 6, 5, 5}, {10, 6, 1, 1}, 1, 0, 1}}) {
    CAPTURE(c.x[1]);
    const Tensor x = random_f32(c.x, rng), w = random_f32(c.w, rng), b = random_f32({c.w[0]}, rng);
    Tensor xb = x.clone().set_requires_grad(), wb = w.clone().set_requires_grad(), bb = b.clone().set_requires_grad();
    Tensor y = oa::conv2d(xb, wb, bb, c.stride, c.padding, c.groups);
    const Tensor r = random_f32(y.shape(), rng);
    oa::sum(oa::mul(y, r)).backward();
    Tensor w_grad_sum = Tensor::zeros(w.shape());
    for (std::int64_t n = 0; n < c.x[0]; ++n) {
      Tensor xn = oa::data::take_rows(x, {n}).set_requires_grad(), wn = w.clone().set_requires_grad();
      Tensor yn = oa::conv2d(xn, wn, b, c.stride, c.padding, c.groups);
      oa::sum(oa::mul(yn, oa::data::take_rows(r, {n}))).backward();
      const auto expected = yn.to_vector<float>(), got = oa::data::take_rows(y.detach(), {n}).to_vector<float>();
      const auto gx_expected = xn.grad().to_vector<float>(), gx_got = oa::data::take_rows(xb.grad(), {n}).to_vector<float>();
      for (std::size_t i = 0; i < expected.size(); ++i) REQUIRE(got[i] == doctest::Approx(expected[i]).epsilon(1e-5));
      for (std::size_t i = 0; i < gx_expected.size(); ++i)
        REQUIRE(gx_got[i] == doctest::Approx(gx_expected[i]).epsilon(1e-5));
      w_grad_sum = oa::add(w_grad_sum, wn.grad());
    }
    const auto gw_expected = w_grad_sum.to_vector<float>(), gw_got = wb.grad().to_vector<float>();
    for (std::size_t i = 0; i < gw_expected.size(); ++i)
      CHECK(gw_got[i] == doctest::Approx(gw_expected[i]).epsilon(1e-4).scale(1.0));
  }
}

TEST_CASE("where_rows picks whole rows by the per-sample mask, also in place") {
  const Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor b = Tensor::from_vector<float>({-1, -2, -3, -4, -5, -6}, {3, 2});
  const Tensor mask = Tensor::from_vector<float>({1, 0, 1}, {3});
  Tensor out = Tensor::zeros({3, 2});
  oa::backend::where_rows(mask, a, b, out);
  check_values(out, {1, 2, -3, -4, 5, 6});
  oa::backend::where_rows(mask, a, b, b);  // out aliasing b: only the masked rows change
  check_values(b, {1, 2, -3, -4, 5, 6});
  CHECK_THROWS_WITH_AS(oa::backend::where_rows(Tensor::ones({4}), a, a, out),
                       doctest::Contains("do not split into the 4 rows"), oa::Error);
}

TEST_CASE("forward: where picks whole rows of a or b by the per-row mask, and names the op in its errors") {
  const Tensor a = f32({1, 2, 3, 4, 5, 6, 7, 8}, {4, 1, 2}), b = f32({-1, -2, -3, -4, -5, -6, -7, -8}, {4, 1, 2});
  const Tensor mask = f32({1, 0, 0.5, 0}, {4});  // any nonzero value picks a
  const Tensor out = oa::where(mask, a, b);
  CHECK(out.shape() == Shape{4, 1, 2});
  check_values(out, {1, 2, -3, -4, 5, 6, -7, -8});
  check_values(a, {1, 2, 3, 4, 5, 6, 7, 8});  // the operands are left as they were
  check_values(b, {-1, -2, -3, -4, -5, -6, -7, -8});
  CHECK_THROWS_WITH_AS(oa::where(f32({1, 0, 1}, {3}), a, b), doctest::Contains("where: the mask"), oa::Error);
  CHECK_THROWS_WITH_AS(oa::where(mask, a, b.reshape({4, 2})), doctest::Contains("where: shapes differ"), oa::Error);
  CHECK_THROWS_WITH_AS(oa::where(mask.to(DType::Float64), a, b), doctest::Contains("where: dtypes differ"), oa::Error);
}

TEST_CASE("row_adam_step: each row is one Adam with its own bias correction; a step size of 0 keeps the row") {
  // Two rows of two elements, at Adam steps t = 1 and t = 3; a third row stands still.
  const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  std::vector<double> w{1, 2, 3, 4, 5, 6}, g{0.5, -1, 2, 0.25, 7, 7}, m{0, 0, 0.1, -0.2, 1, 1}, v{0, 0, 0.3, 0.1, 1, 1};
  const std::vector<double> t{1, 3, 0};
  std::vector<double> step(3), correction(3), expected_w = w;
  for (int r = 0; r < 3; ++r) {
    step[r] = t[r] == 0 ? 0.0 : lr / (1 - std::pow(b1, t[r]));
    correction[r] = t[r] == 0 ? 1.0 : 1 / (1 - std::pow(b2, t[r]));
  }
  std::vector<double> expected_m = m, expected_v = v;
  for (int k = 0; k < 4; ++k) {  // the two moving rows, by the textbook formulas
    const int r = k / 2;
    expected_m[k] = b1 * m[k] + (1 - b1) * g[k];
    expected_v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
    const double m_hat = expected_m[k] / (1 - std::pow(b1, t[r])), v_hat = expected_v[k] / (1 - std::pow(b2, t[r]));
    expected_w[k] = w[k] - lr * m_hat / (std::sqrt(v_hat) + eps);
  }
  Tensor tw = Tensor::from_vector(w, {3, 2}), tm = Tensor::from_vector(m, {3, 2}), tv = Tensor::from_vector(v, {3, 2});
  oa::backend::row_adam_step(tw, Tensor::from_vector(g, {3, 2}), tm, tv, Tensor::from_vector(step, {3}),
                             Tensor::from_vector(correction, {3}), b1, b2, eps);
  check_values(tw, expected_w, 1e-12);
  check_values(tm, expected_m, 1e-12);
  check_values(tv, expected_v, 1e-12);
}

TEST_CASE("forward: normalize is (x - mean[c]) / std[c]; nn::Normalize applies it as a layer") {
  Tensor x = Tensor::from_vector(std::vector<float>{0.0f, 1.0f, 0.5f, 0.25f}, {1, 2, 1, 2});
  x.set_requires_grad();
  const Tensor y = oa::normalize(x, {0.5, 0.25}, {0.5, 0.25});
  check_values(y, {-1.0, 1.0, 1.0, 0.0});
  // Attacks take gradients through the normalisation back to the [0, 1] pixels: dL/dx = dL/dy / std.
  oa::sum(y).backward();
  check_values(x.grad(), {2.0, 2.0, 4.0, 4.0});
  CHECK(oa::nn::Normalize({0.5, 0.25}, {0.5, 0.25}).forward(x).to_vector<float>() == y.to_vector<float>());
  CHECK_THROWS_WITH(oa::normalize(x, {0.5}, {0.5}), doctest::Contains("2 channels but mean has 1 and std 1"));
  CHECK_THROWS_WITH(oa::normalize(x, {0.5, 0.5}, {0.5, 0.0}), doctest::Contains("std must be positive"));
  CHECK_THROWS_WITH(oa::nn::Normalize({0.5, 0.5}, {0.5}), doctest::Contains("mean has 2 and std 1 entries"));
  CHECK_THROWS_WITH(oa::nn::Normalize({0.5}, {-1.0}), doctest::Contains("std must be positive"));
}
