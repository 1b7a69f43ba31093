#pragma once
// The sparse execution path of pruned models, for evaluation and attacks (frozen weights).
//
// to_sparse rewrites the model's tree: every groups-1 Conv2d whose weight has at least
// `min_sparsity` zeros is replaced by an nn::SparseConv2d holding that weight in CSR form, so
// that its forward and input-gradient backward skip the pruned weights (ops sparse_conv2d).
// Below ~90% sparsity the dense GEMM is faster, hence the threshold; run_bench measures the
// crossover. The rewritten model computes the same function; it cannot be trained (the sparse
// layers have no weight gradient and refuse training mode) nor moved off the CPU (Module::to
// throws, naming the layer): keep the dense model for that.
#include <cstddef>

#include "framework/nn/module.h"

namespace oa::prune {

// Swaps the pruned convolutions of `model` (on the CPU) for SparseConv2d layers; returns how
// many were swapped. The model itself is the root and stays what it is.
std::size_t to_sparse(nn::Module& model, double min_sparsity = 0.9);

}  // namespace oa::prune
