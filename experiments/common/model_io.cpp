#include "experiments/common/model_io.h"

#include "framework/io/checkpoint.h"
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

LoadedModel load_model(const std::string& path) {
  const nlohmann::json meta = io::read_checkpoint_metadata(path);
  auto field = [&](const char* key, std::int64_t fallback) {
    if (!meta.contains(key)) return fallback;
    OA_CHECK(meta[key].is_number_integer(), "{}: metadata field '{}' is not an integer: {}", path, key,
             meta[key].dump());
    return meta[key].get<std::int64_t>();
  };
  OA_CHECK(meta.contains("architecture") && meta["architecture"].is_string(),
           "{}: the checkpoint metadata names no architecture", path);
  models::ModelConfig config{.name = meta["architecture"].get<std::string>(),
                             .in_channels = field("in_channels", 3),
                             .image_size = field("image_size", 224),
                             .classes = field("classes", field("num_classes", 1000)),
                             .width = field("width", 1)};
  Rng rng(0);  // every weight is overwritten by the checkpoint
  auto model = models::make_model(config, rng);
  if (meta.contains("channels")) {
    OA_CHECK(meta["channels"].is_object(), "{}: metadata field 'channels' is not an object", path);
    prune::resize_chains(*model, meta["channels"].get<std::map<std::string, std::int64_t>>());
  }
  if (meta.contains("masked_layers")) {
    OA_CHECK(meta["masked_layers"].is_array(), "{}: metadata field 'masked_layers' is not a list", path);
    prune::attach_masks(*model, meta["masked_layers"].get<std::vector<std::string>>());
  }
  nlohmann::json loaded = io::load_checkpoint(path, *model);
  return {model, config, loaded};
}

}  // namespace oa::experiments
