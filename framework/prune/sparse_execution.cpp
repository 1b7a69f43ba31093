#include "framework/prune/sparse_execution.h"

#include <algorithm>

namespace oa::prune {

SparseExecution::SparseExecution(nn::Module& model, double min_sparsity) {
  OA_CHECK(min_sparsity >= 0 && min_sparsity <= 1, "SparseExecution: min_sparsity must be in [0, 1], got {}",
           min_sparsity);
  for (auto& [name, module] : model.named_modules()) {
    auto* conv = dynamic_cast<nn::Conv2d*>(module);
    if (!conv || conv->options.groups != 1 || conv->weight.device() != Device::CPU) continue;
    const auto values = conv->weight.to_vector<double>();
    const auto zeros = std::count(values.begin(), values.end(), 0.0);
    if (double(zeros) < min_sparsity * double(values.size())) continue;
    conv->sparse_weight = std::make_shared<const SparseConvWeight>(SparseConvWeight::from_dense(conv->weight));
    layers_.push_back(conv);
  }
}

SparseExecution::~SparseExecution() {
  for (auto* conv : layers_) conv->sparse_weight.reset();
}

}  // namespace oa::prune
