#pragma once
// Builds any model of the project by name: "small-cnn" or a ResNet (see resnet.h).
#include <memory>
#include <string>
#include <vector>

#include "framework/core/random.h"
#include "framework/nn/module.h"

namespace oa::models {

struct ModelConfig {
  std::string name;
  std::int64_t in_channels = 1;
  std::int64_t image_size = 28;
  std::int64_t classes = 10;
  std::int64_t width = 1;  // CIFAR-style ResNet width multiplier
  // Input standardisation inside the model (ResNets only; see ResNetSpec); empty: none.
  std::vector<double> input_mean = {}, input_std = {};
};

std::shared_ptr<nn::Module> make_model(const ModelConfig& config, Rng& rng);
std::vector<std::string> model_names();

}  // namespace oa::models
