// The two CPU convolution engines agree: oneDNN (float32) against our im2col kernels run in
// float64, forward (also with the fused ReLU) and both gradients, on every convolution shape of the ResNets we build
// (ResNet-20 on 28x28 and 32x32 images; the bottleneck ResNets at 224x224, whose distinct
// shapes ResNet-50, -101 and -152 share: only the number of blocks differs).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "framework/backend/cpu/conv2d_engine.h"
#include "framework/backend/dispatch.h"
#include "framework/util/runtime.h"
#include "tests/unit/helpers.h"

using oa::DType;
using oa::Tensor;
using oa::backend::Conv2dGeometry;

namespace {

Conv2dGeometry geometry(std::int64_t batch, std::int64_t in, std::int64_t out, std::int64_t size, std::int64_t kernel,
                        std::int64_t stride) {
  const std::int64_t padding = kernel / 2, out_size = (size + 2 * padding - kernel) / stride + 1;
  return {.batch = batch, .in_channels = in, .in_h = size, .in_w = size, .out_channels = out, .kernel_h = kernel,
          .kernel_w = kernel, .stride = stride, .padding = padding, .groups = 1, .out_h = out_size, .out_w = out_size};
}

// ResNet-20 (models/resnet.cpp): a 3x3 stem to 16 channels, stages of 16, 32, 64 channels whose
// first block halves the plane with a strided 3x3 conv and a 1x1 strided projection.
std::vector<Conv2dGeometry> resnet20_shapes(std::int64_t batch, std::int64_t channels, std::int64_t size) {
  std::vector<Conv2dGeometry> shapes{geometry(batch, channels, 16, size, 3, 1), geometry(batch, 16, 16, size, 3, 1)};
  for (std::int64_t planes : {32, 64}) {
    shapes.push_back(geometry(batch, planes / 2, planes, size, 3, 2));
    shapes.push_back(geometry(batch, planes / 2, planes, size, 1, 2));
    size = (size + 1) / 2;
    shapes.push_back(geometry(batch, planes, planes, size, 3, 1));
  }
  return shapes;
}

// The bottleneck ResNets at 224x224: a 7x7 stride-2 stem, then stages of 64..512 planes at
// 56, 28, 14, 7 pixels; each block is 1x1 in -> planes, 3x3 (with the stride in a stage's first
// block), 1x1 planes -> 4 * planes, and the first block projects its input with a 1x1 conv.
std::vector<Conv2dGeometry> bottleneck_shapes(std::int64_t batch) {
  std::vector<Conv2dGeometry> shapes{geometry(batch, 3, 64, 224, 7, 2)};
  std::int64_t in = 64, size = 56;
  for (std::int64_t planes : {64, 128, 256, 512}) {
    const std::int64_t stride = planes == 64 ? 1 : 2, out_size = size / stride;
    shapes.push_back(geometry(batch, in, planes, size, 1, 1));
    shapes.push_back(geometry(batch, planes, planes, size, 3, stride));
    shapes.push_back(geometry(batch, in, 4 * planes, size, 1, stride));
    shapes.push_back(geometry(batch, planes, 4 * planes, out_size, 1, 1));
    shapes.push_back(geometry(batch, 4 * planes, planes, out_size, 1, 1));
    shapes.push_back(geometry(batch, planes, planes, out_size, 3, 1));
    in = 4 * planes;
    size = out_size;
  }
  return shapes;
}

// max |actual - expected| <= tolerance * max |expected|: float32 against float64 sums.
void check_close(const Tensor& actual, const Tensor& expected, const char* what, const Conv2dGeometry& g) {
  const auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - e[i]));
    scale = std::max(scale, std::abs(e[i]));
  }
  INFO(what, ": ", g.batch, "x", g.in_channels, "x", g.in_h, "x", g.in_w, " -> ", g.out_channels, ", kernel ",
       g.kernel_h, " stride ", g.stride, "; max diff ", diff, " of max ", scale);
  CHECK(scale > 0);
  CHECK(diff <= 2e-5 * scale);
}

void check_engines_agree(const Conv2dGeometry& g, std::mt19937& rng) {
  using test::random_f32;
  const Tensor x = random_f32({g.batch, g.in_channels, g.in_h, g.in_w}, rng);
  const Tensor w = random_f32({g.out_channels, g.in_channels, g.kernel_h, g.kernel_w}, rng);
  const Tensor b = random_f32({g.out_channels}, rng);
  const Tensor grad_y = random_f32({g.batch, g.out_channels, g.out_h, g.out_w}, rng);
  const Tensor x64 = x.to(DType::Float64), w64 = w.to(DType::Float64), b64 = b.to(DType::Float64);
  const Tensor grad_y64 = grad_y.to(DType::Float64);

  Tensor y = Tensor::empty(grad_y.shape(), DType::Float32), y64 = Tensor::empty(grad_y.shape(), DType::Float64);
  oa::cpu::onednn_conv2d_forward(x, w, &b, y, g);
  oa::cpu::im2col_conv2d_forward(x64, w64, &b64, y64, g);
  check_close(y, y64, "forward", g);

  // The ReLU as oneDNN's post-op against im2col's convolution then ReLU.
  Tensor y_relu = Tensor::empty(grad_y.shape(), DType::Float32), y64_relu = Tensor::empty(grad_y.shape(), DType::Float64);
  oa::cpu::onednn_conv2d_relu_forward(x, w, &b, y_relu, g);  // float64: im2col, then ReLU
  oa::backend::conv2d_relu_forward(x64, w64, &b64, y64_relu, g);
  check_close(y_relu, y64_relu, "forward with fused ReLU", g);
  const auto relu_values = y64_relu.to_vector<double>();
  CHECK(std::count(relu_values.begin(), relu_values.end(), 0.0) > 0);  // the ReLU did clip something
  CHECK(*std::min_element(relu_values.begin(), relu_values.end()) == 0.0);

  Tensor gx = Tensor::empty(x.shape(), DType::Float32), gx64 = Tensor::empty(x.shape(), DType::Float64);
  oa::cpu::onednn_conv2d_backward_input(grad_y, w, gx, g);
  oa::cpu::im2col_conv2d_backward_input(grad_y64, w64, gx64, g);
  check_close(gx, gx64, "input gradient", g);

  Tensor gw = Tensor::empty(w.shape(), DType::Float32), gw64 = Tensor::empty(w.shape(), DType::Float64);
  oa::cpu::onednn_conv2d_backward_weight(grad_y, x, gw, g);
  oa::cpu::im2col_conv2d_backward_weight(grad_y64, x64, gw64, g);
  check_close(gw, gw64, "weight gradient", g);
}

}  // namespace

TEST_CASE("conv engines: oneDNN agrees with im2col on the ResNet-20 shapes") {
  std::mt19937 rng(7);
  for (const auto& g : resnet20_shapes(32, 1, 28)) check_engines_agree(g, rng);
  for (const auto& g : resnet20_shapes(4, 3, 32)) check_engines_agree(g, rng);
}

TEST_CASE("conv engines: oneDNN agrees with im2col on the bottleneck ResNet shapes") {
  std::mt19937 rng(8);
  for (const auto& g : bottleneck_shapes(2)) check_engines_agree(g, rng);
}

TEST_CASE("conv engines: float32 runs oneDNN unless im2col is asked for; float64 always im2col") {
  CHECK(oa::cpu_conv_engine(DType::Float32) == oa::CpuConvEngine::onednn);
  CHECK(oa::cpu_conv_engine(DType::Float64) == oa::CpuConvEngine::im2col);
  oa::set_cpu_conv_engine(oa::CpuConvEngine::im2col);
  CHECK(oa::cpu_conv_engine(DType::Float32) == oa::CpuConvEngine::im2col);
  oa::set_cpu_conv_engine(oa::CpuConvEngine::automatic);
  CHECK(oa::cpu_conv_engine(DType::Float32) == oa::CpuConvEngine::onednn);
}
