#pragma once
// Capacity accounting: parameters and FLOPs, dense and effective, per layer and in total.
//
// FLOPs count a multiply-add as 2 and cover the conv and linear layers (the rest, BatchNorm,
// ReLU, pooling and additions, is a few percent of a ResNet's). For a conv with output
// [C_out, H_out, W_out] and weight [C_out, C_in / groups, k, k]:
//     dense     = 2 * C_out * H_out * W_out * (C_in / groups) * k * k
//     effective = 2 * H_out * W_out * nonzero(weight)      (each nonzero weight once per position)
// For a linear layer, 2 * in * out and 2 * nonzero(weight), per sample.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/nn/module.h"

namespace oa::prune {

struct LayerCapacity {
  std::string name;
  std::string kind;  // "conv" or "linear"
  Shape weight_shape;
  std::int64_t weights = 0, nonzero_weights = 0;
  double flops_dense = 0, flops_effective = 0;  // per sample
};

struct Capacity {
  std::vector<LayerCapacity> layers;
  std::int64_t parameters = 0, nonzero_parameters = 0;  // every parameter (BatchNorm and biases too)
  std::int64_t weights = 0, nonzero_weights = 0;        // conv and linear weights only
  double flops_dense = 0, flops_effective = 0;          // per sample
  double sparsity() const { return weights ? 1.0 - double(nonzero_weights) / double(weights) : 0.0; }
};

// Runs one forward pass of a zero input of `input_shape` ([C, H, W]) in eval mode, without
// gradients, to learn each layer's output size. The model's mode is restored.
Capacity capacity(nn::Module& model, const Shape& input_shape);

nlohmann::json to_json(const Capacity& capacity);

}  // namespace oa::prune
