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

// A residual block: a chain of conv-BN pairs (conv{i}, bn{i}) with ReLU between them (the
// children relu{i}), the shortcut added to the last BN's output, then a ReLU:
//   out = relu(bn_k(conv_k(... relu1(bn1(conv1(x))) ...)) + shortcut(x))
// The shortcut is x itself, or downsample(x) (1x1 conv + BN) when the shape changes.
// Inside the chain, conv{i}'s output channels go only through bn{i} into conv{i+1}: the block
// declares these chains, and filter pruning (prune/filter.h) may remove channels from them.
// (The block's output channels are tied to the shortcut, so they are not declared.)
class ResidualBlock : public nn::Module {
 public:
  struct ConvSpec {
    std::int64_t in, out, kernel, stride;
  };
  ResidualBlock(const std::vector<ConvSpec>& chain, Rng& rng) : depth_(chain.size()) {
    for (std::size_t i = 1; i <= depth_; ++i) {
      const auto& c = chain[i - 1];
      register_module(conv_name(i), conv(c.in, c.out, c.kernel, c.stride, rng));
      register_module(bn_name(i), std::make_shared<nn::BatchNorm2d>(c.out));
      if (i < depth_) register_module(relu_name(i), std::make_shared<nn::ReLU>());
      declare_conv_norm_pair({conv_name(i), bn_name(i), i < depth_ ? relu_name(i) : ""});
    }
    for (std::size_t i = 1; i < depth_; ++i) declare_channel_chain({conv_name(i), bn_name(i), conv_name(i + 1)});
    const std::int64_t in = chain.front().in, out = chain.back().out;
    std::int64_t stride = 1;
    for (const auto& c : chain) stride *= c.stride;
    has_downsample_ = stride != 1 || in != out;
    if (has_downsample_) register_module("downsample", projection(in, out, stride, rng));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (std::size_t i = 1; i <= depth_; ++i) {
      h = child(bn_name(i))(child(conv_name(i))(h));
      if (i < depth_) h = child(relu_name(i))(h);
    }
    return relu(add(h, has_downsample_ ? child("downsample")(x) : x));
  }
  std::string type_name() const override { return "ResidualBlock"; }

 private:
  static std::string conv_name(std::size_t i) { return "conv" + std::to_string(i); }
  static std::string bn_name(std::size_t i) { return "bn" + std::to_string(i); }
  static std::string relu_name(std::size_t i) { return "relu" + std::to_string(i); }
  std::size_t depth_;  // conv-BN pairs
  bool has_downsample_;
};

// Basic block: two 3x3 convs, the first with the stride.
struct BasicBlock {
  static constexpr std::int64_t kExpansion = 1;
  static std::vector<ResidualBlock::ConvSpec> chain(std::int64_t in, std::int64_t planes, std::int64_t stride) {
    return {{in, planes, 3, stride}, {planes, planes, 3, 1}};
  }
};

// Bottleneck (torchvision v1.5): 1x1 reduce, 3x3 with the stride, 1x1 expand (x4).
struct Bottleneck {
  static constexpr std::int64_t kExpansion = 4;
  static std::vector<ResidualBlock::ConvSpec> chain(std::int64_t in, std::int64_t planes, std::int64_t stride) {
    return {{in, planes, 1, 1}, {planes, planes, 3, stride}, {planes, planes * kExpansion, 1, 1}};
  }
};

// Appends `count` blocks of `planes` to a new stage; the first carries the stride.
template <class Block>
std::shared_ptr<nn::Sequential> make_stage(std::int64_t& in, std::int64_t planes, std::int64_t count,
                                           std::int64_t stride, Rng& rng) {
  auto stage = std::make_shared<nn::Sequential>();
  for (std::int64_t i = 0; i < count; ++i) {
    stage->add(std::make_shared<ResidualBlock>(Block::chain(in, planes, i == 0 ? stride : 1), rng));
    in = planes * Block::kExpansion;
  }
  return stage;
}

// "layer1" .. "layer4", torchvision's names of the stages.
std::string stage_name(std::size_t s) { return "layer" + std::to_string(s + 1); }

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
  if (!spec.input_mean.empty() || !spec.input_std.empty()) {
    OA_CHECK(static_cast<std::int64_t>(spec.input_mean.size()) == spec.in_channels,
             "ResNet: input normalisation needs one mean and std per input channel ({}), got {} and {}",
             spec.in_channels, spec.input_mean.size(), spec.input_std.size());
    register_module("normalize", std::make_shared<nn::Normalize>(spec.input_mean, spec.input_std));
  }
  std::int64_t channels = cifar ? 16 * spec.width : 64;
  register_module("conv1", conv(spec.in_channels, channels, cifar ? 3 : 7, cifar ? 1 : 2, rng));
  register_module("bn1", std::make_shared<nn::BatchNorm2d>(channels));
  register_module("relu", std::make_shared<nn::ReLU>());
  declare_conv_norm_pair({"conv1", "bn1", "relu"});
  std::int64_t in = channels;
  for (std::size_t s = 0; s < spec.blocks.size(); ++s) {
    const std::int64_t planes = channels << s;
    const std::int64_t stride = s == 0 ? 1 : 2;
    auto stage = spec.bottleneck ? make_stage<Bottleneck>(in, planes, spec.blocks[s], stride, rng)
                                 : make_stage<BasicBlock>(in, planes, spec.blocks[s], stride, rng);
    register_module(stage_name(s), stage);
  }
  register_module("fc", std::make_shared<nn::Linear>(in, spec.classes, rng));
}

Tensor ResNet::forward(const Tensor& x) {
  OA_CHECK(x.dim() == 4 && x.size(1) == spec_.in_channels, "ResNet: expected input [N, {}, H, W], got {}",
           spec_.in_channels, describe(x));
  const Tensor input = spec_.input_mean.empty() ? x : child("normalize")(x);
  Tensor h = child("relu")(child("bn1")(child("conv1")(input)));
  if (spec_.style == ResNetStyle::ImageNet) h = max_pool2d(h, 3, 2, 1);
  for (std::size_t s = 0; s < spec_.blocks.size(); ++s) h = child(stage_name(s))(h);
  return child("fc")(global_avg_pool2d(h));
}

}  // namespace oa::models
