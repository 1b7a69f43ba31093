#include "experiments/common/model_io.h"

#include <algorithm>
#include <cmath>

#include "framework/io/checkpoint.h"
#include "framework/nn/fold_batch_norm.h"
#include "framework/prune/filter.h"
#include "framework/prune/masks.h"
#include "models/resnet.h"

namespace oa::experiments {

namespace {

// config's fields added to `metadata`, as model_config reads them back.
nlohmann::json with_config(nlohmann::json metadata, const models::ModelConfig& config) {
  metadata["architecture"] = config.name;
  metadata["in_channels"] = config.in_channels;
  metadata["image_size"] = config.image_size;
  metadata["classes"] = config.classes;
  metadata["width"] = config.width;
  if (!config.input_mean.empty()) metadata["normalize"] = {{"mean", config.input_mean}, {"std", config.input_std}};
  return metadata;
}

}  // namespace

void save_model(const std::string& path, nn::Module& model, const models::ModelConfig& config,
                nlohmann::json metadata) {
  metadata = with_config(std::move(metadata), config);
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
  models::ModelConfig config{.name = meta["architecture"].get<std::string>(),
                             .in_channels = field("in_channels", 3, 64),
                             .image_size = field("image_size", 224, 1024),
                             .classes = field("classes", field("num_classes", 1000, 100000), 100000),
                             .width = field("width", 1, 64)};
  if (meta.contains("normalize")) {
    const nlohmann::json& n = meta["normalize"];
    // One finite number per input channel in each list, every std above 0.
    auto numbers = [&](const char* key, bool positive) {
      OA_CHECK(n.is_object() && n.contains(key) && n[key].is_array() &&
                   static_cast<std::int64_t>(n[key].size()) == config.in_channels,
               "{}: metadata field 'normalize' must be {{\"mean\": [...], \"std\": [...]}} with {} numbers each "
               "(one per input channel), got {}",
               path, config.in_channels, n.dump());
      std::vector<double> values;
      for (const auto& v : n[key]) {
        OA_CHECK(v.is_number() && std::isfinite(v.get<double>()) && (!positive || v.get<double>() > 0),
                 "{}: metadata field 'normalize.{}' holds {}, not a finite{} number", path, key, v.dump(),
                 positive ? " positive" : "");
        values.push_back(v.get<double>());
      }
      return values;
    };
    config.input_mean = numbers("mean", false);
    config.input_std = numbers("std", true);
  }
  return config;
}

void check_finite(const Tensor& tensor, const std::string& what) {
  if (tensor.dtype() == DType::Int64) return;
  const auto values = tensor.to_vector<double>();
  for (std::size_t i = 0; i < values.size(); ++i)
    OA_CHECK(std::isfinite(values[i]), "{} holds {} at flat index {} of {}", what, values[i], i, describe(tensor));
}

namespace {

// A fresh model of `config`, shaped as the checkpoint's metadata says (the widths of filter-
// pruned channel chains, the mask buffers of masked layers), ready for the weights.
std::shared_ptr<nn::Module> build_model(const models::ModelConfig& config, const nlohmann::json& meta,
                                        const std::string& path) {
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
  return model;
}

// The model of a torchvision state_dict saved without our metadata (load_model's `arch`): a
// torchvision-style ResNet on 3 channels with ImageNet's input normalisation, its classes
// read off the file's "fc.weight" [classes, features].
models::ModelConfig torchvision_config(const io::SafetensorsFile& file, const std::string& path,
                                       const std::string& arch) {
  OA_CHECK(models::resnet_spec(arch, 3, 1000).style == models::ResNetStyle::ImageNet,
           "--arch {}: a file without OutlierAttack metadata ({}) loads as a torchvision ResNet only: resnet18, "
           "resnet34, resnet50, resnet101 or resnet152",
           arch, path);
  const auto fc = std::find_if(file.tensors.begin(), file.tensors.end(),
                               [](const auto& named) { return named.first == "fc.weight"; });
  OA_CHECK(fc != file.tensors.end() && fc->second.dim() == 2,
           "{}: without OutlierAttack metadata, the file must hold torchvision's 'fc.weight' [classes, features] to "
           "load as --arch {}; {}",
           path, arch, fc == file.tensors.end() ? "it has none" : "it is " + shape_str(fc->second.shape()));
  const std::int64_t classes = fc->second.size(0);
  OA_CHECK(classes >= 2 && classes <= 100000, "{}: 'fc.weight' has {} rows (classes), outside [2, 100000]", path,
           classes);
  return {.name = arch, .in_channels = 3, .image_size = 224, .classes = classes, .width = 1,
          .input_mean = nn::kImageNetMean, .input_std = nn::kImageNetStd};
}

std::int64_t parameter_count(const nn::Module& model) {
  std::int64_t count = 0;
  for (const auto& p : model.parameters()) count += p.numel();
  return count;
}

// Refuses a loaded model whose parameters or buffers hold NaN or inf.
void check_finite_state(const nn::Module& model, const std::string& path) {
  for (const auto& named : {model.named_parameters(), model.named_buffers()})
    for (const auto& [name, tensor] : named) check_finite(tensor, fmt::format("{}: tensor '{}'", path, name));
}

}  // namespace

LoadedModel load_model(const std::string& path, const std::string& arch) {
  if (!arch.empty() && !io::read_safetensors_metadata(path).contains("format")) {
    const io::SafetensorsFile file = io::read_safetensors(path);
    const models::ModelConfig config = torchvision_config(file, path, arch);
    const nlohmann::json meta = with_config(
        {{"source", "torchvision state_dict without metadata (--arch)"}, {"dataset", "image-folder"}}, config);
    auto model = build_model(config, meta, path);
    io::load_tensors(file, path, *model);
    check_finite_state(*model, path);
    return {model, config, meta, parameter_count(*model)};
  }
  const nlohmann::json meta = io::read_checkpoint_metadata(path);
  const models::ModelConfig config = model_config(meta, path);
  OA_CHECK(arch.empty() || arch == config.name, "--arch {}: {} holds a {} (its metadata says so); drop --arch", arch,
           path, config.name);
  auto model = build_model(config, meta, path);
  nlohmann::json loaded = io::load_checkpoint(path, *model);
  check_finite_state(*model, path);
  return {model, config, loaded, parameter_count(*model)};
}

LoadedModel load_frozen_model(const std::string& path, const std::string& arch) {
  LoadedModel loaded = load_model(path, arch);
  loaded.model->eval();
  loaded.model->set_requires_grad(false);
  nn::fold_batch_norm(*loaded.model);
  return loaded;
}

void check_data_fits(const models::ModelConfig& config, const std::string& data_name, std::int64_t channels,
                     std::int64_t classes) {
  OA_CHECK(channels == config.in_channels && classes == config.classes,
           "the model ({}) takes {} input channels and has {} classes; the data set {} has {} channels and {} classes",
           config.name, config.in_channels, config.classes, data_name, channels, classes);
}

void check_data_fits(const models::ModelConfig& config, const data::Dataset& d) {
  check_data_fits(config, d.name, d.images.size(1), d.classes);
}

}  // namespace oa::experiments
