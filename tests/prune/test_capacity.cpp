// Capacity accounting: parameters and FLOPs of small models computed by hand.
#include <doctest/doctest.h>

#include "framework/nn/layers.h"
#include "framework/prune/capacity.h"
#include "framework/prune/magnitude.h"
#include "models/zoo.h"

using namespace oa;

TEST_CASE("capacity of a conv-linear net, dense and pruned, by hand") {
  Rng rng(0);
  auto net = std::make_shared<nn::Sequential>();
  // conv 2->4, 3x3, stride 1, padding 1, on 2x8x8: output 4x8x8
  net->add(std::make_shared<nn::Conv2d>(
      nn::Conv2dOptions{.in_channels = 2, .out_channels = 4, .kernel = 3, .padding = 1, .bias = true}, rng));
  net->add(std::make_shared<nn::Flatten>());
  net->add(std::make_shared<nn::Linear>(4 * 8 * 8, 5, rng));
  const auto dense = prune::capacity(*net, {2, 8, 8});
  REQUIRE(dense.layers.size() == 2);
  CHECK(dense.layers[0].flops_dense == doctest::Approx(2.0 * 4 * 64 * (2 * 9)));
  CHECK(dense.layers[1].flops_dense == doctest::Approx(2.0 * 256 * 5));
  CHECK(dense.weights == 72 + 1280);
  CHECK(dense.parameters == 72 + 4 + 1280 + 5);
  CHECK(dense.flops_effective == doctest::Approx(dense.flops_dense));
  CHECK(dense.sparsity() == 0);

  prune::magnitude_prune(*net, {.sparsity = 0.75, .scope = prune::Scope::Layer});
  const auto pruned = prune::capacity(*net, {2, 8, 8});
  CHECK(pruned.layers[0].nonzero_weights == 18);
  CHECK(pruned.layers[1].nonzero_weights == 320);
  CHECK(pruned.layers[0].flops_effective == doctest::Approx(2.0 * 64 * 18));
  CHECK(pruned.layers[1].flops_effective == doctest::Approx(2.0 * 320));
  // Biases are never pruned; the conv bias starts at zero, so only the linear one counts as nonzero.
  CHECK(pruned.nonzero_parameters == 18 + 320 + 5);
  CHECK(pruned.sparsity() == doctest::Approx(1.0 - 338.0 / 1352.0));
}

TEST_CASE("ResNet-20 on 28x28: every conv and linear layer, FLOPs by hand (62 MFLOPs)") {
  Rng rng(0);
  auto model = models::make_model({.name = "resnet20", .in_channels = 1, .image_size = 28, .classes = 10}, rng);
  const auto c = prune::capacity(*model, {1, 28, 28});
  CHECK(c.layers.size() == 22);  // 19 3x3 convs + 2 shortcut 1x1 convs + fc
  CHECK(c.weights == c.nonzero_weights);
  // Stem, then 3 stages of 3 blocks of two 3x3 convs on 28x28 / 14x14 / 7x7 planes; stages 2
  // and 3 open with a stride-2 conv and a 1x1 stride-2 shortcut conv:
  double expected = 2.0 * 28 * 28 * 16 * 1 * 9 + 6 * 2.0 * 28 * 28 * 16 * 16 * 9    // stem + stage 1
                    + 2.0 * 14 * 14 * 32 * 16 * 9 + 5 * 2.0 * 14 * 14 * 32 * 32 * 9  // stage 2
                    + 2.0 * 14 * 14 * 32 * 16                                       // its 1x1 shortcut
                    + 2.0 * 7 * 7 * 64 * 32 * 9 + 5 * 2.0 * 7 * 7 * 64 * 64 * 9      // stage 3
                    + 2.0 * 7 * 7 * 64 * 32 + 2.0 * 64 * 10;                        // shortcut + fc
  CHECK(c.flops_dense == doctest::Approx(expected));
}
