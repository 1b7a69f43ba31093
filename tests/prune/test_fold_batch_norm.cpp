// nn::fold_batch_norm: the folded model is the same function in eval mode, logits and input
// gradients (the attack's view), in float64 to 1e-12 and in float32 to 1e-5, relative; and
// every declared conv -> BN -> ReLU runs as one fused conv2d_relu kernel.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "framework/backend/dispatch.h"
#include "framework/nn/fold_batch_norm.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"
#include "models/zoo.h"

using namespace oa;

namespace {

// A model whose BatchNorms hold statistics far from the identity (as after training), so
// that folding them has something to get wrong.
std::shared_ptr<nn::Module> model_with_trained_norms(const models::ModelConfig& config, DType dtype) {
  Rng rng(11);
  auto model = models::make_model(config, rng);
  for (const auto& [path, module] : model->named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(module)) {
      const std::int64_t c = bn->weight.numel();
      bn->weight.copy_(rand_uniform({c}, rng, 0.5, 1.5));
      bn->bias.copy_(rand_uniform({c}, rng, -0.3, 0.3));
      bn->running_mean.copy_(rand_uniform({c}, rng, -0.5, 0.5));
      bn->running_var.copy_(rand_uniform({c}, rng, 0.2, 2.0));
    }
  model->to(dtype);
  model->eval();
  model->set_requires_grad(false);
  return model;
}

struct Outputs {
  Tensor logits, input_gradient;
};
// Logits, and the gradient of a fixed random weighting of them with respect to the input.
Outputs run(nn::Module& model, const Tensor& x, const Tensor& weighting) {
  Tensor input = x.clone().set_requires_grad();
  Tensor logits = model(input);
  sum(mul(logits, weighting)).backward();
  return {logits.detach(), input.grad()};
}

// max |a - b| / max |b|
double relative_error(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return diff / scale;
}

int count_layers(nn::Module& model, const std::string& type) {
  int n = 0;
  for (const auto& [path, module] : model.named_modules()) n += module->type_name() == type;
  return n;
}

int fused_relus(nn::Module& model) {
  int n = 0;
  for (const auto& [path, module] : model.named_modules())
    if (const auto* conv = dynamic_cast<const nn::Conv2d*>(module)) n += conv->options.relu;
  return n;
}

}  // namespace

TEST_CASE("fold_batch_norm: same logits and input gradients, every conv -> BN pair folded") {
  struct Case {
    models::ModelConfig config;
    int pairs;  // conv -> BN pairs of the architecture
    int relus;  // of them followed by a ReLU module (a block's last ReLU comes after the sum)
  };
  // ResNet-20: stem + 9 blocks x 2 + 2 projections, ReLU after the stem and each block's first
  // conv; small CNN: 2, both with a ReLU; ResNet-50: stem + 16 x 3 + 4, ReLU after the stem and
  // each block's first two convs.
  for (const Case& c : {Case{{.name = "resnet20"}, 21, 10}, Case{{.name = "small-cnn"}, 2, 2},
                        Case{{.name = "resnet50", .in_channels = 3, .image_size = 32}, 53, 33}}) {
    for (const auto& [dtype, tolerance] : {std::pair{DType::Float64, 1e-12}, std::pair{DType::Float32, 1e-5}}) {
      CAPTURE(c.config.name);
      CAPTURE(dtype_name(dtype));
      auto reference = model_with_trained_norms(c.config, dtype);
      auto folded = model_with_trained_norms(c.config, dtype);
      CHECK(nn::fold_batch_norm(*folded) == c.pairs);
      CHECK(count_layers(*folded, "BatchNorm2d") == 0);
      CHECK(count_layers(*reference, "BatchNorm2d") == c.pairs);
      CHECK(count_layers(*reference, "ReLU") == c.relus);
      CHECK(count_layers(*folded, "ReLU") == 0);
      CHECK(fused_relus(*folded) == c.relus);

      Rng rng(3);
      const Tensor x = rand_uniform({3, c.config.in_channels, c.config.image_size, c.config.image_size}, rng, 0, 1)
                           .to(dtype);
      const Tensor weighting = randn({3, c.config.classes}, rng).to(dtype);
      const Outputs expected = run(*reference, x, weighting);
      backend::reset_kernel_calls();
      const Outputs actual = run(*folded, x, weighting);
      CHECK(backend::kernel_calls("conv2d_relu_forward") == c.relus);
      CHECK(backend::kernel_calls("conv2d_forward") == c.pairs - c.relus);
      CHECK(relative_error(actual.logits, expected.logits) < tolerance);
      CHECK(relative_error(actual.input_gradient, expected.input_gradient) < tolerance);
      // Frozen stays frozen: an attack's backward must not compute weight gradients.
      for (const auto& [name, p] : folded->named_parameters()) CHECK_FALSE(p.requires_grad());
    }
  }
}

TEST_CASE("fold_batch_norm: refuses a model in training mode") {
  Rng rng(1);
  auto model = models::make_model({.name = "small-cnn"}, rng);
  CHECK_THROWS_WITH(nn::fold_batch_norm(*model),
                    doctest::Contains("the model is in training mode, where BatchNorm uses the batch's statistics"));
}
