#pragma once
// The sparse execution path of pruned models, for inference and attacks (frozen weights).
//
// SparseExecution, for its scope, gives every groups-1 Conv2d whose weight has at least
// `min_sparsity` zeros a CSR snapshot of that weight, so that its forward and input-gradient
// backward skip the pruned weights (ops sparse_conv2d). Below ~90% sparsity the dense GEMM
// is faster, hence the threshold; run_bench measures the crossover. The snapshot is taken
// at construction: the weights must not change inside the scope (training is refused by the
// layer itself, which uses the dense path whenever a weight gradient is wanted).
#include <vector>

#include "framework/nn/layers.h"

namespace oa::prune {

class SparseExecution {
 public:
  explicit SparseExecution(nn::Module& model, double min_sparsity = 0.9);
  ~SparseExecution();
  SparseExecution(const SparseExecution&) = delete;
  SparseExecution& operator=(const SparseExecution&) = delete;
  // How many layers run sparse.
  std::size_t sparse_layers() const { return layers_.size(); }

 private:
  std::vector<nn::Conv2d*> layers_;
};

}  // namespace oa::prune
