#pragma once
// Checkpoints that know their architecture: the model's ModelConfig travels in the
// checkpoint metadata, so any run_* can rebuild the model from the file alone.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "framework/data/dataset.h"
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

// The model a checkpoint's metadata describes; `path` names the file in errors. Files from
// tools/torchvision_to_safetensors.py work too (3 input channels, "num_classes"). Sizes
// outside sane bounds are refused before anything is allocated for them.
models::ModelConfig model_config(const nlohmann::json& metadata, const std::string& path);

// Rebuilds the model named by the checkpoint's metadata and loads its weights. Refuses a
// checkpoint holding a NaN or infinite value, naming the tensor and the first bad index.
LoadedModel load_model(const std::string& path);

// The model of a checkpoint for evaluation and attacks only: loaded, in eval mode, frozen, and
// with BatchNorm folded into the convolutions (nn::fold_batch_norm: the same function, one
// pass over the activations less per layer). Never train or save it: its parameters are no
// longer the checkpoint's.
LoadedModel load_frozen_model(const std::string& path);

// Throws unless the model of `config` takes the images of `d` (their channels) and has as
// many classes as `d`.
void check_data_fits(const models::ModelConfig& config, const data::Dataset& d);

// Throws, naming `what` and the first bad flat index, if a floating tensor holds NaN or inf.
void check_finite(const Tensor& tensor, const std::string& what);

}  // namespace oa::experiments
