// experiments/common/model_io: the input normalisation travels in the checkpoint metadata.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "experiments/common/model_io.h"
#include "framework/autograd/node.h"
#include "framework/core/random.h"
#include "framework/nn/layers.h"

using nlohmann::json;
using oa::Tensor;
namespace experiments = oa::experiments;

std::string temp_file(const std::string& name);  // test_safetensors.cpp

namespace {

bool has_normalize_layer(oa::nn::Module& model) {
  for (const auto& [name, module] : model.named_modules())
    if (module->type_name() == "Normalize") return true;
  return false;
}

Tensor eval_logits(oa::nn::Module& model, const Tensor& x) {
  model.eval();
  oa::NoGradGuard no_grad;
  return model(x);
}

}  // namespace

TEST_CASE("model_io: a model that normalises its input round-trips; old checkpoints have no Normalize") {
  const oa::models::ModelConfig config{.name = "resnet20", .in_channels = 2, .image_size = 8, .classes = 3,
                                       .input_mean = {0.25, 0.5}, .input_std = {0.5, 2.0}};
  oa::Rng rng(1);
  auto model = oa::models::make_model(config, rng);
  REQUIRE(has_normalize_layer(*model));
  const std::string path = temp_file("normalized.safetensors");
  experiments::save_model(path, *model, config, {});
  const auto loaded = experiments::load_model(path);
  CHECK(loaded.metadata["normalize"] == json{{"mean", {0.25, 0.5}}, {"std", {0.5, 2.0}}});
  CHECK(loaded.config.input_mean == config.input_mean);
  CHECK(loaded.config.input_std == config.input_std);
  const Tensor x = oa::rand_uniform({2, 2, 8, 8}, rng, 0.0, 1.0);
  CHECK(eval_logits(*loaded.model, x).to_vector<float>() == eval_logits(*model, x).to_vector<float>());

  // The same weights without the field (a checkpoint from before it existed): no layer, and the
  // logits are those of the un-normalised input.
  oa::models::ModelConfig plain = config;
  plain.input_mean.clear();
  plain.input_std.clear();
  const std::string old_path = temp_file("plain.safetensors");
  experiments::save_model(old_path, *model, plain, {});
  const auto old = experiments::load_model(old_path);
  CHECK_FALSE(old.metadata.contains("normalize"));
  CHECK_FALSE(has_normalize_layer(*old.model));
  const Tensor standardised = oa::normalize(x, config.input_mean, config.input_std);
  CHECK(eval_logits(*old.model, standardised).to_vector<float>() == eval_logits(*model, x).to_vector<float>());
}

TEST_CASE("model_io: bad 'normalize' metadata is refused, naming the field") {
  const json base{{"architecture", "resnet20"}, {"in_channels", 2}, {"classes", 3}};
  auto refused = [&](const json& normalize, const char* message) {
    json meta = base;
    meta["normalize"] = normalize;
    CHECK_THROWS_WITH(experiments::model_config(meta, "f.safetensors"), doctest::Contains(message));
  };
  refused({{"mean", {0.5}}, {"std", {1.0, 1.0}}}, "f.safetensors: metadata field 'normalize' must be");
  refused({{"mean", {0.5, 0.5}}}, "with 2 numbers each (one per input channel)");
  refused({{"mean", {0.5, "x"}}, {"std", {1.0, 1.0}}}, "'normalize.mean' holds \"x\", not a finite number");
  refused({{"mean", {0.5, 0.5}}, {"std", {1.0, 0.0}}}, "'normalize.std' holds 0.0, not a finite positive number");
  refused(json::array({1, 2}), "metadata field 'normalize' must be");
  oa::Rng rng(0);
  CHECK_THROWS_WITH(oa::models::make_model({.name = "small-cnn", .input_mean = {0.5}, .input_std = {0.5}}, rng),
                    doctest::Contains("input normalisation is built into the ResNets only"));
}
