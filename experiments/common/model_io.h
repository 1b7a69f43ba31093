#pragma once
// Checkpoints that know their architecture: the model's ModelConfig travels in the
// checkpoint metadata, so any run_* can rebuild the model from the file alone.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "framework/nn/module.h"
#include "models/zoo.h"

namespace oa::experiments {

struct LoadedModel {
  std::shared_ptr<nn::Module> model;
  models::ModelConfig config;
  nlohmann::json metadata;
};

// Writes the checkpoint with config's fields ("architecture", "in_channels", "image_size",
// "classes", "width") added to `metadata`.
void save_model(const std::string& path, nn::Module& model, const models::ModelConfig& config,
                nlohmann::json metadata);

// Rebuilds the model named by the checkpoint's metadata and loads its weights. Files from
// tools/torchvision_to_safetensors.py work too (3 input channels, "num_classes").
LoadedModel load_model(const std::string& path);

}  // namespace oa::experiments
