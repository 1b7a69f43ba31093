#include "models/small_cnn.h"

#include "framework/nn/layers.h"

namespace oa::models {

std::shared_ptr<nn::Module> make_small_cnn(std::int64_t in_channels, std::int64_t image_size, std::int64_t classes,
                                           Rng& rng) {
  OA_CHECK(image_size % 4 == 0, "small-cnn: image size {} must be a multiple of 4 (two 2x2 poolings)", image_size);
  auto net = std::make_shared<nn::Sequential>();
  std::int64_t channels = in_channels;
  for (std::int64_t width : {32, 64}) {
    net->add(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = channels, .out_channels = width,
                                                            .kernel = 3, .padding = 1},
                                          rng));
    net->add(std::make_shared<nn::BatchNorm2d>(width));
    net->add(std::make_shared<nn::ReLU>());
    net->add(std::make_shared<nn::MaxPool2d>(2, 2));
    channels = width;
  }
  net->add(std::make_shared<nn::Flatten>());
  const std::int64_t side = image_size / 4;
  net->add(std::make_shared<nn::Linear>(channels * side * side, classes, rng));
  return net;
}

}  // namespace oa::models
