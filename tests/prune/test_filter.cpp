// Structured filter pruning: layers really shrink, the function stays well defined, the
// largest filters stay, and the shape round-trips through checkpoints.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "experiments/common/model_io.h"
#include "framework/autograd/node.h"
#include "framework/prune/capacity.h"
#include "framework/prune/filter.h"
#include "framework/prune/magnitude.h"
#include "models/zoo.h"
#include "tests/common/temp_dir.h"

using namespace oa;

namespace {
const models::ModelConfig kResNet20{.name = "resnet20", .in_channels = 1, .image_size = 28, .classes = 10};

std::vector<double> filter_l1_norms(const Tensor& w) {
  const auto v = w.to_vector<double>();
  std::vector<double> norms(static_cast<std::size_t>(w.size(0)), 0.0);
  for (std::size_t k = 0; k < v.size(); ++k) norms[k / (v.size() / norms.size())] += std::abs(v[k]);
  return norms;
}

Tensor eval_logits(nn::Module& model, const Tensor& x) {
  NoGradGuard no_grad;
  model.eval();
  return model(x);
}
}  // namespace

TEST_CASE("ResNet-20 has one chain per block, and filter pruning shrinks conv1, bn1 and conv2 of each") {
  Rng rng(0);
  auto model = models::make_model(kResNet20, rng);
  const auto chains = prune::channel_chains(*model);
  REQUIRE(chains.size() == 9);
  CHECK(chains[0].name == "layer1.0.conv1");
  const auto original = prune::chain_widths(*model);
  CHECK(original.at("layer3.2.conv1") == 64);

  // The filters that survive are the largest by L1 norm.
  const auto norms = filter_l1_norms(chains[0].producer->weight);
  std::vector<double> sorted = norms;
  std::sort(sorted.rbegin(), sorted.rend());
  const double dense_flops = prune::capacity(*model, {1, 28, 28}).flops_dense;

  prune::filter_prune(*model, 0.5, original);
  const auto after = prune::channel_chains(*model);
  for (const auto& c : after) {
    CAPTURE(c.name);
    CHECK(c.channels() == original.at(c.name) / 2);
    CHECK(c.producer->weight.size(0) == c.channels());
    CHECK(c.producer->options.out_channels == c.channels());
    CHECK(c.norm->running_var.size(0) == c.channels());
    CHECK(c.consumer->weight.size(1) == c.channels());
    CHECK(c.consumer->options.in_channels == c.channels());
  }
  auto kept = filter_l1_norms(after[0].producer->weight);
  std::sort(kept.rbegin(), kept.rend());
  for (std::size_t k = 0; k < kept.size(); ++k) CHECK(kept[k] == doctest::Approx(sorted[k]));

  Rng data_rng(1);
  const Tensor x = rand_uniform({2, 1, 28, 28}, data_rng, 0.0, 1.0);
  CHECK(eval_logits(*model, x).shape() == Shape{2, 10});
  const double pruned_flops = prune::capacity(*model, {1, 28, 28}).flops_dense;
  CHECK(pruned_flops < 0.6 * dense_flops);  // half the inner channels: about half the block FLOPs

  // A ladder refers to the original widths; a rung cannot give channels back.
  prune::filter_prune(*model, 0.75, original);
  CHECK(prune::chain_widths(*model).at("layer1.0.conv1") == 4);
  CHECK_THROWS_WITH_AS(prune::filter_prune(*model, 0.5, original), doctest::Contains("never grow back"), Error);
}

TEST_CASE("filter-pruned and masked models round-trip through checkpoints with the same logits") {
  test::TempDir dir;
  Rng rng(0);
  auto model = models::make_model(kResNet20, rng);
  prune::filter_prune(*model, 0.25, prune::chain_widths(*model));
  prune::magnitude_prune(*model, {.sparsity = 0.5});
  const std::string path = dir.file("filter.safetensors");
  experiments::save_model(path, *model, kResNet20, {});
  auto loaded = experiments::load_model(path);
  CHECK(prune::chain_widths(*loaded.model) == prune::chain_widths(*model));
  Rng data_rng(2);
  const Tensor x = rand_uniform({3, 1, 28, 28}, data_rng, 0.0, 1.0);
  CHECK(eval_logits(*loaded.model, x).to_vector<float>() == eval_logits(*model, x).to_vector<float>());
}

TEST_CASE("filter pruning refuses models without chains and bad fractions") {
  Rng rng(0);
  auto cnn = models::make_model({.name = "small-cnn"}, rng);
  CHECK_THROWS_WITH_AS(prune::filter_prune(*cnn, 0.5, {}), doctest::Contains("no conv -> BatchNorm -> conv"), Error);
  auto model = models::make_model(kResNet20, rng);
  CHECK_THROWS_WITH_AS(prune::filter_prune(*model, 1.0, prune::chain_widths(*model)), doctest::Contains("[0, 1)"),
                       Error);
  CHECK_THROWS_WITH_AS(prune::resize_chains(*model, {{"layer9.0.conv1", 3}}), doctest::Contains("layer9.0.conv1"),
                       Error);
}

TEST_CASE("filter pruning reads the chains the model declares, and names a model that declares none") {
  Rng rng(0);
  auto model = models::make_model(kResNet20, rng);
  // Each residual block declares its conv1 -> bn1 -> conv2 chain; the ResNet itself declares none.
  CHECK(model->declared_channel_chains().empty());
  const auto& block = model->child("layer2").child("0");
  REQUIRE(block.declared_channel_chains().size() == 1);
  CHECK(block.declared_channel_chains()[0].producer == "conv1");
  CHECK(block.declared_channel_chains()[0].norm == "bn1");
  CHECK(block.declared_channel_chains()[0].consumer == "conv2");
  // A Sequential of the same kind of layers declares nothing, so it cannot be filter-pruned.
  auto cnn = models::make_model({.name = "small-cnn"}, rng);
  CHECK(prune::channel_chains(*cnn).empty());
  CHECK(prune::chain_widths(*cnn).empty());
  CHECK_THROWS_WITH_AS(prune::filter_prune(*cnn, 0.5, {}), doctest::Contains("the model (Sequential) declares no"),
                       Error);
}
