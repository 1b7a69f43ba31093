#pragma once
// Pruning masks are part of the model. A pruned Conv2d or Linear holds a buffer
// "weight_mask" of its weight's shape and dtype (1 keeps a weight, 0 prunes it), so masks
// travel in checkpoints as "<layer>.weight_mask" like any buffer, and the weight itself holds
// exact zeros where its mask is 0. Optimizer::set_masks(parameter_masks(model)) keeps them
// zero through training.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/nn/module.h"

namespace oa::prune {

// A layer whose weight can be pruned: every Conv2d and Linear, in the model's order.
struct PrunableLayer {
  std::string name;  // "layer1.0.conv1"
  nn::Module* module;
  Tensor weight;
  bool is_conv;
};
std::vector<PrunableLayer> prunable_layers(nn::Module& model);

// The layer's mask (a Conv2d's or Linear's), undefined while the layer is dense.
Tensor mask_of(const nn::Module& layer);
inline Tensor mask_of(const PrunableLayer& layer) { return mask_of(*layer.module); }
// The layer's mask, created as all ones if the layer had none.
Tensor ensure_mask(const PrunableLayer& layer);

// One entry per model.parameters(): the mask of a pruned weight, undefined for the rest.
std::vector<Tensor> parameter_masks(nn::Module& model);

// weight *= mask for every pruned layer.
void apply_masks(nn::Module& model);

// The names of the pruned layers (those with a mask), for checkpoint metadata.
std::vector<std::string> masked_layer_names(nn::Module& model);
// Gives each named layer an all-ones mask, so that a checkpoint holding masks loads.
void attach_masks(nn::Module& model, const std::vector<std::string>& layer_names);

}  // namespace oa::prune
