#pragma once
// The ResNet family, built at run time from a table of block counts.
//
//  CIFAR style (He et al. 2016, section 4.2): ResNet-20/32/44/56/110 = 6n+2 layers.
//    conv3x3(16w) - BN - ReLU - 3 stages of n basic blocks (16w, 32w, 64w channels,
//    stride 1, 2, 2) - global average pool - fc. w is the width multiplier. When a block
//    changes the shape, its shortcut is a 1x1 conv + BN ("option B").
//  torchvision style: ResNet-18/34 (basic blocks) and ResNet-50/101/152 (bottlenecks,
//    stride in the 3x3 conv), the ImageNet stem conv7x7/2 - BN - ReLU - maxpool3x3/2,
//    4 stages of 64, 128, 256, 512 planes.
//
// With ResNetSpec::input_mean/input_std the forward first standardises the input (a
// parameter-free layer "normalize"), so the model still takes pixels in [0, 1].
//
// Parameter names equal torchvision's state_dict keys in both families: conv1, bn1,
// layer{1..4}.{i}.conv{1,2,3} / bn{1,2,3} / downsample.0 (1x1 conv) / downsample.1 (BN), fc.
// The forward calls the layers by these names (Module::child), so a transformation that
// swaps a layer (prune::to_sparse) changes what runs. Each residual block declares its
// conv{i} -> bn{i} -> conv{i+1} channel chains for filter pruning.
#include <memory>
#include <string>
#include <vector>

#include "framework/core/random.h"
#include "framework/nn/layers.h"

namespace oa::models {

enum class ResNetStyle { Cifar, ImageNet };

struct ResNetSpec {
  ResNetStyle style = ResNetStyle::Cifar;
  bool bottleneck = false;
  std::vector<std::int64_t> blocks;  // blocks per stage
  std::int64_t width = 1;            // CIFAR-style width multiplier
  std::int64_t in_channels = 3;
  std::int64_t classes = 10;
  // Input standardisation (x - mean[c]) / std[c] as the first layer, "normalize" (nn::Normalize),
  // e.g. nn::kImageNetMean/kImageNetStd for torchvision's weights; empty: the model takes the
  // pixels as they are.
  std::vector<double> input_mean = {}, input_std = {};
};

// "resnet20" .. "resnet110" (CIFAR style), "resnet18" .. "resnet152" (torchvision style).
ResNetSpec resnet_spec(const std::string& name, std::int64_t in_channels, std::int64_t classes, std::int64_t width = 1);
std::vector<std::string> resnet_names();

class ResNet : public nn::Module {
 public:
  ResNet(const ResNetSpec& spec, Rng& rng);
  Tensor forward(const Tensor& x) override;
  const ResNetSpec& spec() const { return spec_; }
  std::string type_name() const override { return "ResNet"; }

 private:
  ResNetSpec spec_;
};

}  // namespace oa::models
