#pragma once
// A labelled image set held in memory: images [N, C, H, W] float32 in [0, 1], labels int64 [N].
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::data {

struct Dataset {
  std::string name;
  Tensor images;
  Tensor labels;
  std::int64_t classes = 0;
  // Class index -> name; empty when the source has none. ("= {}" lets initialisers that stop
  // at `classes` compile without a -Wmissing-field-initializers warning.)
  std::vector<std::string> class_names = {};
  std::int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

// The rows `indices` of x (any rank, rows along dim 0), copied into a new tensor.
Tensor take_rows(const Tensor& x, const std::vector<std::int64_t>& indices);

// The first n samples (all of them when n <= 0 or n >= size).
Dataset head(const Dataset& d, std::int64_t n);

// 0..n-1 in an order that depends only on (seed, epoch): reproducible shuffling.
std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed, std::int64_t epoch);

}  // namespace oa::data
