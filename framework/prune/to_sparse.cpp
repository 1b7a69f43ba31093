#include "framework/prune/to_sparse.h"

#include <algorithm>

#include "framework/nn/layers.h"

namespace oa::prune {

std::size_t to_sparse(nn::Module& model, double min_sparsity) {
  OA_CHECK(min_sparsity >= 0 && min_sparsity <= 1, "to_sparse: min_sparsity must be in [0, 1], got {}", min_sparsity);
  OA_CHECK(model.device() == Device::CPU, "to_sparse: the sparse path runs on the CPU only, the model is on {}",
           device_name(model.device()));
  // First find the convolutions to swap (parent, child name), then swap them: a swap
  // destroys the dense layer, which the list of modules still points to.
  std::vector<std::pair<nn::Module*, std::string>> swaps;
  for (auto& [path, parent] : model.named_modules())
    for (const auto& [name, child] : parent->children()) {
      const auto* conv = dynamic_cast<const nn::Conv2d*>(child.get());
      if (!conv || conv->options.groups != 1) continue;
      const auto values = conv->weight.to_vector<double>();
      const auto zeros = std::count(values.begin(), values.end(), 0.0);
      if (double(zeros) >= min_sparsity * double(values.size())) swaps.emplace_back(parent, name);
    }
  for (auto& [parent, name] : swaps)
    parent->replace_child(name, std::make_shared<nn::SparseConv2d>(dynamic_cast<nn::Conv2d&>(parent->child(name))));
  return swaps.size();
}

}  // namespace oa::prune
