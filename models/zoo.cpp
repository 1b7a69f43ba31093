#include "models/zoo.h"

#include <algorithm>

#include "models/resnet.h"
#include "models/small_cnn.h"

namespace oa::models {

std::vector<std::string> model_names() {
  std::vector<std::string> names{"small-cnn"};
  for (auto& n : resnet_names()) names.push_back(n);
  return names;
}

std::shared_ptr<nn::Module> make_model(const ModelConfig& c, Rng& rng) {
  const auto names = model_names();
  OA_CHECK(std::find(names.begin(), names.end(), c.name) != names.end(), "--model: unknown model '{}' (known: {})",
           c.name, fmt::join(names, ", "));
  if (c.name == "small-cnn") {
    OA_CHECK(c.input_mean.empty() && c.input_std.empty(),
             "small-cnn: input normalisation is built into the ResNets only; the small CNN takes the pixels as they are");
    return make_small_cnn(c.in_channels, c.image_size, c.classes, rng);
  }
  ResNetSpec spec = resnet_spec(c.name, c.in_channels, c.classes, c.width);
  spec.input_mean = c.input_mean;
  spec.input_std = c.input_std;
  return std::make_shared<ResNet>(spec, rng);
}

}  // namespace oa::models
