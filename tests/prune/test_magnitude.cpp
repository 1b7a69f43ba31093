// Magnitude pruning: exact sparsity, masks that survive training and checkpoints.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "experiments/common/model_io.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"
#include "framework/optim/optimizer.h"
#include "framework/prune/magnitude.h"
#include "framework/prune/masks.h"
#include "framework/prune/schedule.h"
#include "models/zoo.h"
#include "tests/common/temp_dir.h"

using namespace oa;

namespace {

std::int64_t zeros_in(const Tensor& t) {
  const auto v = t.to_vector<double>();
  return std::count(v.begin(), v.end(), 0.0);
}

// conv 1->6 (3x3, 54 weights) - ReLU - conv 6->8 (3x3, 432 weights) - flatten - linear 8*4*4 -> 3 (384 weights)
std::shared_ptr<nn::Sequential> tiny_net(std::uint64_t seed = 1) {
  Rng rng(seed);
  auto net = std::make_shared<nn::Sequential>();
  net->add(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 1, .out_channels = 6, .kernel = 3}, rng));
  net->add(std::make_shared<nn::ReLU>());
  net->add(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 6, .out_channels = 8, .kernel = 3}, rng));
  net->add(std::make_shared<nn::Flatten>());
  net->add(std::make_shared<nn::Linear>(8 * 4 * 4, 3, rng));
  return net;
}

}  // namespace

TEST_CASE("global magnitude pruning reaches the exact sparsity and removes the smallest weights") {
  auto net = tiny_net();
  const auto layers = prune::prunable_layers(*net);
  REQUIRE(layers.size() == 3);
  std::vector<double> before;
  for (const auto& l : layers) {
    const auto v = l.weight.to_vector<double>();
    before.insert(before.end(), v.begin(), v.end());
  }
  prune::magnitude_prune(*net, {.sparsity = 0.7, .scope = prune::Scope::Global});
  std::int64_t pruned = 0, total = 0;
  double largest_pruned = 0, smallest_kept = 1e9;
  std::size_t offset = 0;
  for (const auto& l : layers) {
    const auto mask = prune::mask_of(l);
    REQUIRE(mask.defined());
    CHECK(zeros_in(mask) == zeros_in(l.weight));  // the weight is zero exactly where masked
    const auto m = mask.to_vector<double>();
    for (std::size_t i = 0; i < m.size(); ++i) {
      const double magnitude = std::abs(before[offset + i]);
      (m[i] == 0 ? largest_pruned : smallest_kept) =
          m[i] == 0 ? std::max(largest_pruned, magnitude) : std::min(smallest_kept, magnitude);
    }
    pruned += zeros_in(mask);
    total += l.weight.numel();
    offset += m.size();
  }
  CHECK(total == 54 + 432 + 384);
  CHECK(pruned == std::llround(0.7 * 870));
  CHECK(largest_pruned <= smallest_kept);  // one threshold across layers
}

TEST_CASE("layer-wise pruning gives every layer the same exact fraction; first and last can stay dense") {
  auto net = tiny_net();
  prune::magnitude_prune(*net, {.sparsity = 0.5, .scope = prune::Scope::Layer, .keep_first_dense = true,
                                .keep_last_dense = true});
  const auto layers = prune::prunable_layers(*net);
  CHECK_FALSE(prune::mask_of(layers[0]).defined());
  CHECK_FALSE(prune::mask_of(layers[2]).defined());
  CHECK(zeros_in(layers[0].weight) == 0);
  CHECK(zeros_in(prune::mask_of(layers[1])) == 216);
  CHECK(zeros_in(layers[1].weight) == 216);

  auto net2 = tiny_net();
  prune::magnitude_prune(*net2, {.sparsity = 0.9, .scope = prune::Scope::Layer});
  const std::int64_t expected[] = {49, 389, 346};  // round(0.9 * 54), round(0.9 * 432), round(0.9 * 384)
  const auto layers2 = prune::prunable_layers(*net2);
  for (std::size_t i = 0; i < 3; ++i) CHECK(zeros_in(prune::mask_of(layers2[i])) == expected[i]);
}

TEST_CASE("pruning is monotone: a ladder keeps earlier masks, and a lower target is refused") {
  auto net = tiny_net();
  prune::magnitude_prune(*net, {.sparsity = 0.5});
  const auto layers = prune::prunable_layers(*net);
  std::vector<std::vector<double>> first;
  for (const auto& l : layers) first.push_back(prune::mask_of(l).to_vector<double>());
  prune::magnitude_prune(*net, {.sparsity = 0.8});
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto now = prune::mask_of(layers[i]).to_vector<double>();
    for (std::size_t k = 0; k < now.size(); ++k)
      if (first[i][k] == 0) REQUIRE(now[k] == 0);
  }
  CHECK_THROWS_WITH_AS(prune::magnitude_prune(*net, {.sparsity = 0.6}),
                       doctest::Contains("masks never shrink"), Error);
  CHECK_THROWS_WITH_AS(prune::magnitude_prune(*net, {.sparsity = 1.0}), doctest::Contains("[0, 1)"), Error);
}

TEST_CASE("masked weights stay exactly zero through SGD with momentum and weight decay, and Adam") {
  for (const bool adam : {false, true}) {
    CAPTURE(adam);
    auto net = tiny_net();
    prune::magnitude_prune(*net, {.sparsity = 0.75});
    std::unique_ptr<optim::Optimizer> opt;
    if (adam)
      opt = std::make_unique<optim::Adam>(net->parameters(), optim::AdamOptions{.lr = 1e-2, .weight_decay = 1e-2});
    else
      opt = std::make_unique<optim::SGD>(net->parameters(),
                                         optim::SgdOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4});
    opt->set_masks(prune::parameter_masks(*net));
    Rng rng(3);
    const Tensor x = randn({4, 1, 8, 8}, rng);
    const Tensor y = Tensor::from_vector<std::int64_t>({0, 1, 2, 1}, {4});
    const auto layers = prune::prunable_layers(*net);
    const auto kept_before = layers[1].weight.to_vector<double>();
    for (int step = 0; step < 5; ++step) {
      opt->zero_grad();
      cross_entropy((*net)(x), y).backward();
      opt->step();
    }
    for (const auto& l : layers) CHECK(zeros_in(l.weight) == zeros_in(prune::mask_of(l)));
    // ... while the kept weights did train.
    const auto kept_after = layers[1].weight.to_vector<double>();
    const auto mask = prune::mask_of(layers[1]).to_vector<double>();
    double moved = 0;
    for (std::size_t k = 0; k < mask.size(); ++k) moved += mask[k] * std::abs(kept_after[k] - kept_before[k]);
    CHECK(moved > 0);
  }
}

TEST_CASE("masks are saved in checkpoints and come back with the model") {
  test::TempDir dir;
  const models::ModelConfig config{.name = "resnet20", .in_channels = 1, .image_size = 28, .classes = 10};
  Rng rng(0);
  auto model = models::make_model(config, rng);
  prune::magnitude_prune(*model, {.sparsity = 0.9, .keep_first_dense = true});
  const std::string path = dir.file("pruned.safetensors");
  experiments::save_model(path, *model, config, {{"sparsity", 0.9}});
  auto loaded = experiments::load_model(path);
  const auto a = prune::prunable_layers(*model), b = prune::prunable_layers(*loaded.model);
  REQUIRE(a.size() == b.size());
  CHECK_FALSE(prune::mask_of(b[0]).defined());
  for (std::size_t i = 1; i < a.size(); ++i) {
    REQUIRE(prune::mask_of(b[i]).defined());
    CHECK(prune::mask_of(a[i]).to_vector<float>() == prune::mask_of(b[i]).to_vector<float>());
    CHECK(a[i].weight.to_vector<float>() == b[i].weight.to_vector<float>());
  }
}

TEST_CASE("the cubic schedule of Zhu and Gupta") {
  CHECK(prune::cubic_sparsity(0.0, 0.9, 0, 100) == doctest::Approx(0.0));
  CHECK(prune::cubic_sparsity(0.0, 0.9, 50, 100) == doctest::Approx(0.9 - 0.9 * 0.125));
  CHECK(prune::cubic_sparsity(0.5, 0.9, 100, 100) == doctest::Approx(0.9));
  CHECK(prune::cubic_sparsity(0.5, 0.9, 250, 100) == doctest::Approx(0.9));
  double previous = 0;
  for (int t = 0; t <= 100; ++t) {  // non-decreasing, with shrinking increments
    const double s = prune::cubic_sparsity(0.0, 0.9, t, 100);
    CHECK(s >= previous);
    previous = s;
  }
}
