#pragma once
// A small CNN for quick end-to-end runs (the first job of ./run.sh):
//   [conv3x3(32) - BN - ReLU - maxpool2] - [conv3x3(64) - BN - ReLU - maxpool2] - flatten - linear.
#include <memory>

#include "framework/core/random.h"
#include "framework/nn/module.h"

namespace oa::models {

std::shared_ptr<nn::Module> make_small_cnn(std::int64_t in_channels, std::int64_t image_size, std::int64_t classes,
                                           Rng& rng);

}  // namespace oa::models
