#include "experiments/common/model_io.h"

#include <cmath>

#include "framework/io/checkpoint.h"
#include "framework/nn/fold_batch_norm.h"
#include "framework/prune/filter.h"
#include "framework/prune/masks.h"

namespace oa::experiments {

void save_model(const std::string& path, nn::Module& model, const models::ModelConfig& config,
                nlohmann::json metadata) {
  metadata["architecture"] = config.name;
  metadata["in_channels"] = config.in_channels;
  metadata["image_size"] = config.image_size;
  metadata["classes"] = config.classes;
  metadata["width"] = config.width;
  // The widths of the channel chains (filter pruning shrinks them) and the masked layers, so
  // that load_model can give a fresh model this one's shape and mask buffers before loading.
  if (const auto widths = prune::chain_widths(model); !widths.empty()) metadata["channels"] = widths;
  if (const auto masked = prune::masked_layer_names(model); !masked.empty())
    metadata["masked_layers"] = masked;
  io::save_checkpoint(path, model, metadata);
}

models::ModelConfig model_config(const nlohmann::json& meta, const std::string& path) {
  // The field `key` (or `fallback` when absent), an integer in [1, most]: the bounds keep a
  // hostile file from making the model allocate terabytes before its tensors are read (the
  // largest ImageNet variant has 21841 classes).
  auto field = [&](const char* key, std::int64_t fallback, std::int64_t most) {
    if (!meta.contains(key)) return fallback;
    OA_CHECK(meta[key].is_number_integer(), "{}: metadata field '{}' is not an integer: {}", path, key,
             meta[key].dump());
    const auto value = meta[key].get<std::int64_t>();
    OA_CHECK(value >= 1 && value <= most, "{}: metadata field '{}' is {}, outside [1, {}]", path, key, value, most);
    return value;
  };
  OA_CHECK(meta.contains("architecture") && meta["architecture"].is_string(),
           "{}: the checkpoint metadata names no architecture", path);
  return {.name = meta["architecture"].get<std::string>(),
          .in_channels = field("in_channels", 3, 64),
          .image_size = field("image_size", 224, 1024),
          .classes = field("classes", field("num_classes", 1000, 100000), 100000),
          .width = field("width", 1, 64)};
}

void check_finite(const Tensor& tensor, const std::string& what) {
  if (tensor.dtype() == DType::Int64) return;
  const auto values = tensor.to_vector<double>();
  for (std::size_t i = 0; i < values.size(); ++i)
    OA_CHECK(std::isfinite(values[i]), "{} holds {} at flat index {} of {}", what, values[i], i, describe(tensor));
}

LoadedModel load_model(const std::string& path) {
  const nlohmann::json meta = io::read_checkpoint_metadata(path);
  const models::ModelConfig config = model_config(meta, path);
  Rng rng(0);  // every weight is overwritten by the checkpoint
  std::shared_ptr<nn::Module> model;
  try {  // sizes inside the bounds can still multiply to more than the memory holds
    model = models::make_model(config, rng);
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("{}: the model its metadata describes ({}, {} input channels, image size {}, {} classes, "
                            "width {}) does not fit in memory",
                            path, config.name, config.in_channels, config.image_size, config.classes, config.width));
  }
  if (meta.contains("channels")) {
    OA_CHECK(meta["channels"].is_object(), "{}: metadata field 'channels' is not an object", path);
    std::map<std::string, std::int64_t> widths;
    for (const auto& [chain, width] : meta["channels"].items()) {
      OA_CHECK(width.is_number_integer(), "{}: metadata field 'channels' gives chain '{}' the width {}, not an integer",
               path, chain, width.dump());
      widths[chain] = width.get<std::int64_t>();
    }
    prune::resize_chains(*model, widths);
  }
  if (meta.contains("masked_layers")) {
    OA_CHECK(meta["masked_layers"].is_array(), "{}: metadata field 'masked_layers' is not a list", path);
    prune::attach_masks(*model, meta["masked_layers"].get<std::vector<std::string>>());
  }
  nlohmann::json loaded = io::load_checkpoint(path, *model);
  for (const auto& named : {model->named_parameters(), model->named_buffers()})
    for (const auto& [name, tensor] : named) check_finite(tensor, fmt::format("{}: tensor '{}'", path, name));
  return {model, config, loaded};
}

LoadedModel load_frozen_model(const std::string& path) {
  LoadedModel loaded = load_model(path);
  loaded.model->eval();
  loaded.model->set_requires_grad(false);
  nn::fold_batch_norm(*loaded.model);
  return loaded;
}

void check_data_fits(const models::ModelConfig& config, const data::Dataset& d) {
  OA_CHECK(d.images.size(1) == config.in_channels && d.classes == config.classes,
           "the model ({}) takes {} input channels and has {} classes; the data set {} has {} channels and {} classes",
           config.name, config.in_channels, config.classes, d.name, d.images.size(1), d.classes);
}

}  // namespace oa::experiments
