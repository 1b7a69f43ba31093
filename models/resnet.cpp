#include "models/resnet.h"

#include <map>

#include "framework/ops/ops.h"

namespace oa::models {

namespace {

std::shared_ptr<nn::Conv2d> conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                                 Rng& rng) {
  return std::make_shared<nn::Conv2d>(
      nn::Conv2dOptions{.in_channels = in, .out_channels = out, .kernel = kernel, .stride = stride,
                        .padding = kernel / 2},
      rng);
}

// The shortcut of a block whose shape changes: 1x1 conv with the block's stride, then BN.
std::shared_ptr<nn::Sequential> projection(std::int64_t in, std::int64_t out, std::int64_t stride, Rng& rng) {
  auto downsample = std::make_shared<nn::Sequential>();
  downsample->add(conv(in, out, 1, stride, rng));
  downsample->add(std::make_shared<nn::BatchNorm2d>(out));
  return downsample;
}

// Basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), two 3x3 convs.
class BasicBlock : public nn::Module {
 public:
  static constexpr std::int64_t kExpansion = 1;
  BasicBlock(std::int64_t in, std::int64_t planes, std::int64_t stride, Rng& rng)
      : conv1_(register_module("conv1", conv(in, planes, 3, stride, rng))),
        bn1_(register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes))),
        conv2_(register_module("conv2", conv(planes, planes, 3, 1, rng))),
        bn2_(register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes))) {
    if (stride != 1 || in != planes) downsample_ = register_module("downsample", projection(in, planes, stride, rng));
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = relu((*bn1_)((*conv1_)(x)));
    out = (*bn2_)((*conv2_)(out));
    return relu(add(out, downsample_ ? (*downsample_)(x) : x));
  }

 private:
  std::shared_ptr<nn::Conv2d> conv1_;
  std::shared_ptr<nn::BatchNorm2d> bn1_;
  std::shared_ptr<nn::Conv2d> conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn2_;
  std::shared_ptr<nn::Sequential> downsample_;
};

// Bottleneck (torchvision v1.5): 1x1 reduce, 3x3 with the stride, 1x1 expand (x4).
class Bottleneck : public nn::Module {
 public:
  static constexpr std::int64_t kExpansion = 4;
  Bottleneck(std::int64_t in, std::int64_t planes, std::int64_t stride, Rng& rng)
      : conv1_(register_module("conv1", conv(in, planes, 1, 1, rng))),
        bn1_(register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes))),
        conv2_(register_module("conv2", conv(planes, planes, 3, stride, rng))),
        bn2_(register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes))),
        conv3_(register_module("conv3", conv(planes, planes * kExpansion, 1, 1, rng))),
        bn3_(register_module("bn3", std::make_shared<nn::BatchNorm2d>(planes * kExpansion))) {
    if (stride != 1 || in != planes * kExpansion)
      downsample_ = register_module("downsample", projection(in, planes * kExpansion, stride, rng));
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = relu((*bn1_)((*conv1_)(x)));
    out = relu((*bn2_)((*conv2_)(out)));
    out = (*bn3_)((*conv3_)(out));
    return relu(add(out, downsample_ ? (*downsample_)(x) : x));
  }

 private:
  std::shared_ptr<nn::Conv2d> conv1_;
  std::shared_ptr<nn::BatchNorm2d> bn1_;
  std::shared_ptr<nn::Conv2d> conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn2_;
  std::shared_ptr<nn::Conv2d> conv3_;
  std::shared_ptr<nn::BatchNorm2d> bn3_;
  std::shared_ptr<nn::Sequential> downsample_;
};

// Appends `count` blocks of `planes` to a new stage; the first carries the stride.
template <class Block>
std::shared_ptr<nn::Sequential> make_stage(std::int64_t& in, std::int64_t planes, std::int64_t count,
                                           std::int64_t stride, Rng& rng) {
  auto stage = std::make_shared<nn::Sequential>();
  for (std::int64_t i = 0; i < count; ++i) {
    stage->add(std::make_shared<Block>(in, planes, i == 0 ? stride : 1, rng));
    in = planes * Block::kExpansion;
  }
  return stage;
}

}  // namespace

std::vector<std::string> resnet_names() {
  return {"resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
          "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"};
}

ResNetSpec resnet_spec(const std::string& name, std::int64_t in_channels, std::int64_t classes, std::int64_t width) {
  static const std::map<std::string, ResNetSpec> table = {
      {"resnet20", {ResNetStyle::Cifar, false, {3, 3, 3}}},
      {"resnet32", {ResNetStyle::Cifar, false, {5, 5, 5}}},
      {"resnet44", {ResNetStyle::Cifar, false, {7, 7, 7}}},
      {"resnet56", {ResNetStyle::Cifar, false, {9, 9, 9}}},
      {"resnet110", {ResNetStyle::Cifar, false, {18, 18, 18}}},
      {"resnet18", {ResNetStyle::ImageNet, false, {2, 2, 2, 2}}},
      {"resnet34", {ResNetStyle::ImageNet, false, {3, 4, 6, 3}}},
      {"resnet50", {ResNetStyle::ImageNet, true, {3, 4, 6, 3}}},
      {"resnet101", {ResNetStyle::ImageNet, true, {3, 4, 23, 3}}},
      {"resnet152", {ResNetStyle::ImageNet, true, {3, 8, 36, 3}}},
  };
  const auto it = table.find(name);
  OA_CHECK(it != table.end(), "unknown model '{}' (known: {})", name, fmt::join(resnet_names(), ", "));
  OA_CHECK(in_channels >= 1 && classes >= 2 && width >= 1,
           "{}: invalid input channels {}, classes {} or width {}", name, in_channels, classes, width);
  ResNetSpec spec = it->second;
  spec.in_channels = in_channels;
  spec.classes = classes;
  spec.width = width;
  return spec;
}

ResNet::ResNet(const ResNetSpec& spec, Rng& rng) : spec_(spec) {
  const bool cifar = spec.style == ResNetStyle::Cifar;
  std::int64_t channels = cifar ? 16 * spec.width : 64;
  conv1_ = register_module("conv1", conv(spec.in_channels, channels, cifar ? 3 : 7, cifar ? 1 : 2, rng));
  bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(channels));
  std::int64_t in = channels;
  for (std::size_t s = 0; s < spec.blocks.size(); ++s) {
    const std::int64_t planes = channels << s;
    const std::int64_t stride = s == 0 ? 1 : 2;
    auto stage = spec.bottleneck ? make_stage<Bottleneck>(in, planes, spec.blocks[s], stride, rng)
                                 : make_stage<BasicBlock>(in, planes, spec.blocks[s], stride, rng);
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  fc_ = register_module("fc", std::make_shared<nn::Linear>(in, spec.classes, rng));
}

Tensor ResNet::forward(const Tensor& x) {
  OA_CHECK(x.dim() == 4 && x.size(1) == spec_.in_channels, "ResNet: expected input [N, {}, H, W], got {}",
           spec_.in_channels, describe(x));
  Tensor h = relu((*bn1_)((*conv1_)(x)));
  if (spec_.style == ResNetStyle::ImageNet) h = max_pool2d(h, 3, 2, 1);
  for (auto& stage : stages_) h = (*stage)(h);
  return (*fc_)(global_avg_pool2d(h));
}

}  // namespace oa::models
