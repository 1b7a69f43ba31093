// Gradient checks of conv2d: input, weight and bias gradients over the geometries the
// CPU back end treats differently (pointwise 1x1 without im2col, strides, padding, groups).
#include "tests/gradcheck/gradcheck.h"

namespace {

using oa::Tensor;

struct ConvCase {
  std::int64_t in_channels, out_channels, kernel_h, kernel_w, stride, padding, groups;
  bool bias;
};

std::string describe(const ConvCase& c) {
  return fmt::format("conv2d {}->{} kernel {}x{} stride {} padding {} groups {} {}", c.in_channels, c.out_channels,
                     c.kernel_h, c.kernel_w, c.stride, c.padding, c.groups, c.bias ? "bias" : "no bias");
}

using ConvOp = Tensor (*)(const Tensor&, const Tensor&, const Tensor&, std::int64_t, std::int64_t, std::int64_t);

// Checks `op` (conv2d or conv2d_relu) on each case, with random inputs from `seed`.
template <std::size_t N>
void check_cases(const ConvCase (&cases)[N], ConvOp op, const std::string& prefix, unsigned seed) {
  std::mt19937 rng(seed);
  for (const auto& c : cases) {
    // H != W (5 x 6) so that swapped height and width show; odd H leaves a remainder at stride 2.
    std::vector<Tensor> in{gradcheck::uniform({2, c.in_channels, 5, 6}, -1.0, 1.0, rng),
                           gradcheck::uniform({c.out_channels, c.in_channels / c.groups, c.kernel_h, c.kernel_w},
                                              -1.0, 1.0, rng)};
    if (c.bias) in.push_back(gradcheck::uniform({c.out_channels}, -1.0, 1.0, rng));
    for (auto& t : in) t.set_requires_grad();
    gradcheck::check(prefix + describe(c),
                     [c, op](const std::vector<Tensor>& x) {
                       return op(x[0], x[1], c.bias ? x[2] : Tensor(), c.stride, c.padding, c.groups);
                     },
                     in);
  }
}

}  // namespace

TEST_CASE("gradcheck: conv2d") {
  const ConvCase cases[] = {
      {4, 6, 1, 1, 1, 0, 1, true},   // pointwise: the GEMM reads x directly
      {4, 6, 1, 1, 1, 0, 2, false},  // pointwise with groups
      {4, 6, 1, 1, 2, 0, 1, true},   // 1x1 with stride: im2col path
      {4, 6, 1, 1, 1, 1, 1, false},  // 1x1 with padding
      {4, 6, 3, 3, 1, 0, 1, true},
      {4, 6, 3, 3, 1, 1, 1, true},
      {4, 6, 3, 3, 2, 1, 1, false},
      {4, 6, 3, 3, 2, 0, 1, true},
      {4, 6, 3, 3, 1, 1, 2, true},
      {4, 6, 3, 3, 2, 1, 2, true},
      {4, 6, 3, 3, 2, 1, 2, false},
      {3, 2, 3, 2, 1, 1, 1, true},   // non-square kernel
      {2, 3, 7, 7, 1, 3, 1, true},   // kernel wider than the 5x6 input: rows and columns clipped
      {2, 3, 5, 5, 3, 2, 1, false},  // stride 3 with padding 2
  };
  check_cases(cases, oa::conv2d, "", 30);
}

TEST_CASE("gradcheck: conv2d with a frozen weight (input gradient only)") {
  std::mt19937 rng(31);
  Tensor x = gradcheck::uniform({2, 4, 5, 6}, -1.0, 1.0, rng);
  Tensor w = gradcheck::uniform({6, 2, 3, 3}, -1.0, 1.0, rng);
  Tensor b = gradcheck::uniform({6}, -1.0, 1.0, rng);
  x.set_requires_grad();
  gradcheck::check("conv2d, weight and bias frozen",
                   [](const std::vector<Tensor>& in) { return oa::conv2d(in[0], in[1], in[2], 2, 1, 2); }, {x, w, b});
}

// conv2d_relu: the gradient through the fused ReLU (masked by the output) and the convolution.
// Uniform inputs put no pre-activation within the finite-difference step of the kink.
TEST_CASE("gradcheck: conv2d_relu") {
  const ConvCase cases[] = {
      {4, 6, 3, 3, 1, 1, 1, true},
      {4, 6, 3, 3, 2, 1, 2, false},
      {4, 6, 1, 1, 1, 0, 1, true},
  };
  check_cases(cases, oa::conv2d_relu, "fused ReLU, ", 32);
}
