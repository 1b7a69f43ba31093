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
  std::int64_t parameters = 0;  // elements of the parameters as loaded (before any BatchNorm folding)
};

// Writes the checkpoint with config's fields ("architecture", "in_channels", "image_size",
// "classes", "width", and "normalize": {"mean": [...], "std": [...]} when the model
// standardises its input) added to `metadata`.
void save_model(const std::string& path, nn::Module& model, const models::ModelConfig& config,
                nlohmann::json metadata);

// The model a checkpoint's metadata describes; `path` names the file in errors. Files from
// tools/torchvision_to_safetensors.py work too (3 input channels, "num_classes"). Sizes
// outside sane bounds are refused before anything is allocated for them. A checkpoint without
// "normalize" (every one written before the field existed) gives a model without input
// normalisation.
models::ModelConfig model_config(const nlohmann::json& metadata, const std::string& path);

// Rebuilds the model named by the checkpoint's metadata and loads its weights. Refuses a
// checkpoint holding a NaN or infinite value, naming the tensor and the first bad index.
//
// `arch` (the --arch flag) names the architecture of a file without our metadata: a
// torchvision state_dict saved as safetensors, as the Hugging Face ecosystem hands them out.
// Its tensors must then fit a torchvision-style ResNet ("resnet18" .. "resnet152") with 3
// input channels and as many classes as "fc.weight" has rows, and the model standardises its
// input with ImageNet's mean and std (nn::kImageNetMean/kImageNetStd), as torchvision's
// pretrained weights expect; its data set is an image folder. For a file with our metadata,
// `arch` must agree with it.
LoadedModel load_model(const std::string& path, const std::string& arch = "");

// What --arch says in the --help of the run_* that take it.
inline constexpr const char* kArchHelp =
    "Architecture of a model file without OutlierAttack metadata (a torchvision state_dict saved as "
    "safetensors): resnet18, resnet34, resnet50, resnet101 or resnet152; the model then normalises its "
    "[0, 1] input with ImageNet's mean and std, as torchvision's pretrained weights expect";

// The model of a checkpoint for evaluation and attacks only: loaded, in eval mode, frozen, and
// with BatchNorm folded into the convolutions (nn::fold_batch_norm: the same function, one
// pass over the activations less per layer). Never train or save it: its parameters are no
// longer the checkpoint's.
// `arch` as for load_model.
LoadedModel load_frozen_model(const std::string& path, const std::string& arch = "");

// Throws unless the model of `config` takes the images of `d` (their channels) and has as
// many classes as `d`.
void check_data_fits(const models::ModelConfig& config, const data::Dataset& d);
// The same for data known by its name, channels and classes (a stream).
void check_data_fits(const models::ModelConfig& config, const std::string& data_name, std::int64_t channels,
                     std::int64_t classes);

// Throws, naming `what` and the first bad flat index, if a floating tensor holds NaN or inf.
void check_finite(const Tensor& tensor, const std::string& what);

}  // namespace oa::experiments
