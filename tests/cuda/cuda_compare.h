#pragma once
// Helpers of the CUDA tests: every check runs the same computation on the CPU back end and on
// the CUDA back end, from the same inputs, and compares the CUDA result with the CPU one.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/random.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"

namespace cuda_test {

using oa::Device;
using oa::DType;
using oa::Shape;
using oa::Tensor;

inline constexpr DType kFloatTypes[] = {DType::Float32, DType::Float64};
inline constexpr DType kAllTypes[] = {DType::Float32, DType::Float64, DType::Int64};

// ---- tolerances: all of them are here ------------------------------------------------------
//
// Single ops, element by element: |cuda - cpu| <= rtol * |cpu| + atol * max|cpu|.
// Both back ends evaluate the same formulas; they differ in the order of their sums (cuBLAS and
// cuDNN tiles, parallel reductions against sequential loops), in their algorithms (cuDNN's
// implicit GEMM or direct kernels against our im2col + GEMM; in float32 the back end refuses
// cuDNN's Winograd and FFT algorithms, whose transforms lose more than the tolerance below:
// backend/cuda/conv2d.cu, precise_enough) and in libm (CUDA's expf/logf/tanhf are within 2 ulp). The atol term is scaled by the largest |cpu| of the tensor: an element that
// is a near-cancelling sum of large terms carries the rounding error of those terms, not of its
// own small value.
//  - float64: rounding 1.1e-16, sums of at most ~1e4 terms here: 1e-10 leaves four orders of
//    magnitude of margin, yet any indexing or formula bug shows (it is O(1), or at least 1e-4).
//  - float32: rounding 6e-8 times the same sums: 1e-5. TF32 or half precision (10-bit mantissa,
//    errors ~1e-3) fails it, as it must: cuBLAS/cuDNN must run in full float32 (FMA) math.
//  - int64 (casts, labels, indices): exact.
struct Tolerance {
  double rtol, atol;
};
inline Tolerance elementwise_tolerance(DType dtype) {
  switch (dtype) {
    case DType::Float64: return {1e-10, 1e-10};
    case DType::Float32: return {1e-5, 1e-5};
    case DType::Int64: break;
  }
  return {0, 0};
}

// Whole models: the relative L2 error of a whole tensor, ||cuda - cpu|| / ||cpu||. In float32 a
// rounding difference can flip a ReLU or max-pool input that lies within ~1e-6 of its kink: the
// forward value is continuous there, but the gradient through that unit switches on or off. A
// deep net has tens of millions of such units, so a few flips are expected, each moving an input
// gradient by ~1/sqrt(units of its layer) ~ 1e-3 (the parity suite sees 0.4-1% between PyTorch's
// own float32 and float64 input gradients of ResNet-50). float64 has no flips: one tight limit.
enum class Quantity {
  Forward,   // logits, losses, BatchNorm running statistics
  Step,      // parameters after a training step (p - lr * g: the gradient's error, damped by lr)
  Gradient,  // gradients through a deep net (parameter gradients, input gradients)
};
inline double model_tolerance(Quantity q, DType dtype) {
  if (dtype == DType::Float64) return 1e-9;
  switch (q) {
    case Quantity::Forward: return 1e-4;
    case Quantity::Step: return 1e-3;
    case Quantity::Gradient: return 3e-2;
  }
  return 0;
}

// Minimal-distance attacks: the distances found on the two devices (relative difference).
inline constexpr double kAttackDistanceTolerance = 1e-3;

// ---- inputs ----------------------------------------------------------------------------------

inline std::string tag(const std::string& name, DType dtype) { return name + " " + std::string(oa::dtype_name(dtype)); }

// A random CPU tensor, uniform in [lo, hi), that requires grad (or not: constants, statistics).
inline Tensor input(const Shape& shape, DType dtype, oa::Rng& rng, double lo = -1, double hi = 1,
                    bool requires_grad = true) {
  Tensor t = oa::rand_uniform(shape, rng, lo, hi, dtype);
  t.set_requires_grad(requires_grad);
  return t;
}
inline Tensor constant(const Shape& shape, DType dtype, oa::Rng& rng, double lo = -1, double hi = 1) {
  return input(shape, dtype, rng, lo, hi, false);
}

// Random int64 labels [n] in [0, classes).
inline Tensor labels(std::int64_t n, std::int64_t classes, oa::Rng& rng) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (auto& y : v) y = static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(classes));
  return Tensor::from_vector(v, {n});
}

// A small model with every kind of parameter and buffer: conv 2->4 (3x3, padding 1, no bias, as
// BatchNorm follows) - BatchNorm - ReLU - flatten - linear 4*6*6 -> 3, for [N, 2, 6, 6] inputs.
inline std::shared_ptr<oa::nn::Sequential> small_model(std::uint64_t seed) {
  oa::Rng rng(seed);
  auto model = std::make_shared<oa::nn::Sequential>();
  model->add(std::make_shared<oa::nn::Conv2d>(
      oa::nn::Conv2dOptions{.in_channels = 2, .out_channels = 4, .kernel = 3, .padding = 1}, rng));
  model->add(std::make_shared<oa::nn::BatchNorm2d>(4));
  model->add(std::make_shared<oa::nn::ReLU>());
  model->add(std::make_shared<oa::nn::Flatten>());
  model->add(std::make_shared<oa::nn::Linear>(4 * 6 * 6, 3, rng));
  return model;
}

// ---- comparisons -----------------------------------------------------------------------------

// The CUDA result must live on the GPU and match the CPU result's shape and dtype.
inline bool same_layout(const std::string& what, const Tensor& cuda, const Tensor& cpu) {
  REQUIRE_MESSAGE(cuda.defined(), what << ": the CUDA result is undefined");
  REQUIRE_MESSAGE(cpu.defined(), what << ": the CPU result is undefined");
  CHECK_MESSAGE(cuda.device() == Device::CUDA, what << ": the CUDA result is " << oa::describe(cuda));
  CHECK_MESSAGE(cuda.dtype() == cpu.dtype(), what << ": " << oa::describe(cuda) << " vs " << oa::describe(cpu));
  CHECK_MESSAGE(cuda.shape() == cpu.shape(), what << ": " << oa::describe(cuda) << " vs " << oa::describe(cpu));
  return cuda.shape() == cpu.shape();
}

// Element by element, with elementwise_tolerance(dtype); a failure names the worst element
// and the largest error. NaN anywhere fails.
inline void expect_close(const std::string& what, const Tensor& cuda, const Tensor& cpu) {
  if (!same_layout(what, cuda, cpu)) return;
  const Tolerance tol = elementwise_tolerance(cpu.dtype());
  const auto a = cuda.to_vector<double>(), b = cpu.to_vector<double>();
  double scale = 0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  double max_error = 0, worst_excess = -std::numeric_limits<double>::infinity();
  std::size_t worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    double error = std::abs(a[i] - b[i]);
    if (std::isnan(error)) error = std::numeric_limits<double>::infinity();
    max_error = std::max(max_error, error);
    const double excess = error - (tol.rtol * std::abs(b[i]) + tol.atol * scale);
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  CHECK_MESSAGE(!(worst_excess > 0),
                fmt::format("{}: element {} is {:.10g} on CUDA, {:.10g} on the CPU; max |cuda - cpu| = {:.3g} "
                            "({:.3g} of max |cpu| = {:.3g}); tolerance {:g} relative + {:g} of max |cpu|",
                            what, worst, a[worst], b[worst], max_error, scale > 0 ? max_error / scale : max_error, scale,
                            tol.rtol, tol.atol));
}

// ||cuda - cpu|| / ||cpu|| (0 when both are zero).
inline double relative_l2(const Tensor& cuda, const Tensor& cpu) {
  const auto a = cuda.to_vector<double>(), b = cpu.to_vector<double>();
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff += (a[i] - b[i]) * (a[i] - b[i]), norm += b[i] * b[i];
  if (std::isnan(diff)) return std::numeric_limits<double>::infinity();
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// The whole tensor at once, with model_tolerance(q, dtype). With `print` the error is printed
// even when it passes, so that the run's output shows how much room a model check has.
inline void expect_close_l2(const std::string& what, const Tensor& cuda, const Tensor& cpu, Quantity q,
                            bool print = true) {
  if (!same_layout(what, cuda, cpu)) return;
  const double error = relative_l2(cuda, cpu), limit = model_tolerance(q, cpu.dtype());
  if (print) MESSAGE(fmt::format("{}: relative L2 error {:.3g} (limit {:g})", what, error, limit));
  CHECK_MESSAGE(error <= limit, fmt::format("{}: relative L2 error {:.3g} above {:g}", what, error, limit));
}

// ---- one op on both devices ---------------------------------------------------------------------

// The inputs of one check on both devices: CPU copies and CUDA copies of the given tensors.
struct BothDevices {
  std::vector<Tensor> cpu, cuda;
};

// f gets its inputs by non-const reference so that it can hand them to ops that update them in
// place (batch_norm2d's running statistics); the caller can compare them afterwards.
using OpFn = std::function<Tensor(std::vector<Tensor>& inputs)>;

// Runs f on copies of `inputs` (CPU tensors) on the CPU and on the GPU and compares the outputs.
// Then, when the output requires grad, backpropagates L = sum(f(inputs) * R) with one random R
// on both devices and compares the gradient of every input that requires grad.
inline BothDevices check_op(const std::string& name, const OpFn& f, const std::vector<Tensor>& inputs) {
  BothDevices both;
  for (const Tensor& x : inputs) {
    Tensor on_cpu = x.clone(), on_cuda = x.to(Device::CUDA);
    on_cpu.set_requires_grad(x.requires_grad());
    on_cuda.set_requires_grad(x.requires_grad());
    both.cpu.push_back(on_cpu);
    both.cuda.push_back(on_cuda);
  }
  const Tensor y_cpu = f(both.cpu), y_cuda = f(both.cuda);
  expect_close(name + ": forward", y_cuda, y_cpu);
  if (!y_cpu.requires_grad()) return both;

  REQUIRE_MESSAGE(y_cuda.requires_grad(), name << ": the CUDA output records no gradient");
  oa::Rng rng(12345);
  const Tensor r = oa::randn(y_cpu.shape(), rng, 1.0, y_cpu.dtype());
  oa::sum(oa::mul(y_cpu, r)).backward();
  oa::sum(oa::mul(y_cuda, r.to(Device::CUDA))).backward();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const std::string what = name + ": gradient of input " + std::to_string(i);
    REQUIRE_MESSAGE(both.cpu[i].grad().defined(), what << ": none on the CPU");
    REQUIRE_MESSAGE(both.cuda[i].grad().defined(), what << ": none on CUDA");
    expect_close(what, both.cuda[i].grad(), both.cpu[i].grad());
  }
  return both;
}

}  // namespace cuda_test
