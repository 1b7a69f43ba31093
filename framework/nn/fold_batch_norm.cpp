#include "framework/nn/fold_batch_norm.h"

#include <cmath>

#include "framework/nn/layers.h"

namespace oa::nn {

namespace {

template <class Layer>
Layer& child_as(Module& parent, const std::string& path, const std::string& name, const char* expected) {
  Module& found = parent.child(name);
  auto* layer = dynamic_cast<Layer*>(&found);
  OA_CHECK(layer != nullptr, "fold_batch_norm: '{}{}' is a {}, the declared pair needs a {}", path.empty() ? "" : path + ".",
           name, found.type_name(), expected);
  return *layer;
}

// The folded conv of conv -> norm (-> ReLU when `relu`), in float64 on the host.
std::shared_ptr<Conv2d> folded(const Conv2d& conv, const BatchNorm2d& norm, bool relu) {
  const std::int64_t channels = conv.options.out_channels;
  const auto gamma = norm.weight.to_vector<double>(), beta = norm.bias.to_vector<double>();
  const auto mean = norm.running_mean.to_vector<double>(), var = norm.running_var.to_vector<double>();
  auto weight = conv.weight.to_vector<double>();
  std::vector<double> bias = conv.bias.defined() ? conv.bias.to_vector<double>() : std::vector<double>(channels, 0.0);
  const std::size_t per_channel = weight.size() / static_cast<std::size_t>(channels);
  for (std::size_t c = 0; c < static_cast<std::size_t>(channels); ++c) {
    const double s = gamma[c] / std::sqrt(var[c] + norm.eps);
    for (std::size_t i = 0; i < per_channel; ++i) weight[c * per_channel + i] *= s;
    bias[c] = s * (bias[c] - mean[c]) + beta[c];
  }
  const DType dtype = conv.weight.dtype();
  const Device device = conv.weight.device();
  Conv2dOptions options = conv.options;
  options.bias = true;
  options.relu = relu;
  auto result = std::make_shared<Conv2d>(options, Tensor::from_vector(weight, conv.weight.shape()).to(dtype).to(device),
                                         Tensor::from_vector(bias, {channels}).to(dtype).to(device));
  const bool trainable = conv.weight.requires_grad();
  result->weight.set_requires_grad(trainable);
  result->bias.set_requires_grad(trainable);
  for (const auto& [name, buffer] : conv.named_buffers()) result->set_buffer(name, buffer);
  result->eval();
  return result;
}

}  // namespace

int fold_batch_norm(Module& model) {
  OA_CHECK(!model.training(), "fold_batch_norm: the model is in training mode, where BatchNorm uses the batch's "
           "statistics and cannot be folded; call eval() first");
  // Every pair first: replacing children destroys modules the tree walk would still visit.
  std::vector<std::tuple<Module*, std::string, ConvNormDeclaration>> pairs;
  for (const auto& [path, module] : model.named_modules())
    for (const auto& pair : module->conv_norm_pairs()) pairs.emplace_back(module, path, pair);
  for (const auto& [parent, path, pair] : pairs) {
    const auto& conv = child_as<Conv2d>(*parent, path, pair.conv, "Conv2d");
    const auto& norm = child_as<BatchNorm2d>(*parent, path, pair.norm, "BatchNorm2d");
    const bool relu = !pair.relu.empty();
    if (relu) child_as<ReLU>(*parent, path, pair.relu, "ReLU");
    auto replacement = folded(conv, norm, relu);
    parent->replace_child(pair.conv, replacement);
    parent->replace_child(pair.norm, std::make_shared<Identity>());
    if (relu) parent->replace_child(pair.relu, std::make_shared<Identity>());
  }
  return static_cast<int>(pairs.size());
}

}  // namespace oa::nn
