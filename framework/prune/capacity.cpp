#include "framework/prune/capacity.h"

#include <map>

#include "framework/autograd/node.h"
#include "framework/prune/masks.h"

namespace oa::prune {

namespace {
std::int64_t count_nonzero(const Tensor& t) {
  const auto values = t.to_vector<double>();
  return std::count_if(values.begin(), values.end(), [](double v) { return v != 0.0; });
}
}  // namespace

Capacity capacity(nn::Module& model, const Shape& input_shape) {
  OA_CHECK(input_shape.size() == 3, "capacity: the input shape must be [C, H, W], got {}", shape_str(input_shape));
  Capacity total;
  for (const auto& [name, p] : model.named_parameters()) {
    total.parameters += p.numel();
    total.nonzero_parameters += count_nonzero(p);
  }
  // Each layer's output elements per sample, recorded by a forward hook.
  auto layers = prunable_layers(model);
  std::map<nn::Module*, std::int64_t> output_numel;
  for (auto& layer : layers)
    layer.module->set_forward_hook(
        [&output_numel](nn::Module& m, const Tensor&, const Tensor& y) { output_numel[&m] = y.numel(); });
  const bool was_training = model.training();
  model.eval();
  {
    NoGradGuard no_grad;
    Shape batch_shape{1};
    batch_shape.insert(batch_shape.end(), input_shape.begin(), input_shape.end());
    Tensor input = layers.empty() ? Tensor::zeros(batch_shape)
                                  : Tensor::zeros(batch_shape, layers.front().weight.dtype(), layers.front().weight.device());
    model(input);
  }
  model.train(was_training);
  for (auto& layer : layers) layer.module->set_forward_hook(nullptr);

  for (const auto& layer : layers) {
    LayerCapacity c{.name = layer.name, .kind = layer.is_conv ? "conv" : "linear", .weight_shape = layer.weight.shape()};
    c.weights = layer.weight.numel();
    c.nonzero_weights = count_nonzero(layer.weight);
    const auto it = output_numel.find(layer.module);
    OA_CHECK(it != output_numel.end(), "capacity: layer {} did not run in the forward pass", layer.name);
    // Output positions per sample: H_out * W_out for a conv, 1 for a linear layer.
    const double positions = double(it->second) / double(layer.weight.size(0));
    const double fan_in = double(c.weights) / double(layer.weight.size(0));
    c.flops_dense = 2.0 * double(it->second) * fan_in;
    c.flops_effective = 2.0 * positions * double(c.nonzero_weights);
    total.weights += c.weights;
    total.nonzero_weights += c.nonzero_weights;
    total.flops_dense += c.flops_dense;
    total.flops_effective += c.flops_effective;
    total.layers.push_back(c);
  }
  return total;
}

nlohmann::json to_json(const Capacity& capacity) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : capacity.layers)
    layers.push_back({{"name", l.name},
                      {"kind", l.kind},
                      {"weight_shape", l.weight_shape},
                      {"weights", l.weights},
                      {"nonzero_weights", l.nonzero_weights},
                      {"sparsity", l.weights ? 1.0 - double(l.nonzero_weights) / double(l.weights) : 0.0},
                      {"flops_dense", l.flops_dense},
                      {"flops_effective", l.flops_effective}});
  return {{"parameters", capacity.parameters},
          {"nonzero_parameters", capacity.nonzero_parameters},
          {"weights", capacity.weights},
          {"nonzero_weights", capacity.nonzero_weights},
          {"sparsity", capacity.sparsity()},
          {"flops_dense", capacity.flops_dense},
          {"flops_effective", capacity.flops_effective},
          {"layers", layers}};
}

}  // namespace oa::prune
