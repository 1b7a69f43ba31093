#include "framework/prune/masks.h"

#include <algorithm>
#include <map>

#include "framework/backend/dispatch.h"
#include "framework/nn/layers.h"
#include "framework/backend/elementwise_math.h"

namespace oa::prune {

namespace {
constexpr const char* kMaskBuffer = "weight_mask";
}

std::vector<PrunableLayer> prunable_layers(nn::Module& model) {
  std::vector<PrunableLayer> layers;
  for (auto& [name, module] : model.named_modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(module)) layers.push_back({name, module, conv->weight, true});
    if (auto* linear = dynamic_cast<nn::Linear*>(module)) layers.push_back({name, module, linear->weight, false});
  }
  return layers;
}

Tensor mask_of(const nn::Module& layer) { return layer.buffer(kMaskBuffer); }

Tensor ensure_mask(const PrunableLayer& layer) {
  Tensor mask = mask_of(*layer.module);
  if (mask.defined()) return mask;
  mask = Tensor::ones(layer.weight.shape(), layer.weight.dtype(), layer.weight.device());
  layer.module->set_buffer(kMaskBuffer, mask);
  return mask;
}

std::vector<Tensor> parameter_masks(nn::Module& model) {
  std::map<std::string, Tensor> mask_by_weight;
  for (const auto& layer : prunable_layers(model))
    if (Tensor mask = mask_of(layer); mask.defined()) mask_by_weight[layer.name + ".weight"] = mask;
  std::vector<Tensor> masks;
  for (const auto& [name, p] : model.named_parameters()) {
    const auto it = mask_by_weight.find(name);
    masks.push_back(it == mask_by_weight.end() ? Tensor() : it->second);
  }
  return masks;
}

void apply_masks(nn::Module& model) {
  for (auto& layer : prunable_layers(model))
    if (Tensor mask = mask_of(layer); mask.defined()) backend::map_binary(layer.weight, mask, layer.weight, math::Mul{});
}

std::vector<std::string> masked_layer_names(nn::Module& model) {
  std::vector<std::string> names;
  for (const auto& layer : prunable_layers(model))
    if (mask_of(layer).defined()) names.push_back(layer.name);
  return names;
}

void attach_masks(nn::Module& model, const std::vector<std::string>& layer_names) {
  const auto layers = prunable_layers(model);
  for (const auto& name : layer_names) {
    const auto it = std::find_if(layers.begin(), layers.end(), [&](const PrunableLayer& l) { return l.name == name; });
    OA_CHECK(it != layers.end(), "pruning masks: the model has no conv or linear layer named '{}'", name);
    ensure_mask(*it);
  }
}

}  // namespace oa::prune
