#pragma once
// Small tensor builders shared by the unit tests.
#include <cstdint>
#include <random>
#include <vector>

#include "framework/core/tensor.h"

namespace test {

inline oa::Tensor f32(const std::vector<float>& values, const oa::Shape& shape) {
  return oa::Tensor::from_vector(values, shape);
}

// int64 labels [N].
inline oa::Tensor labels(const std::vector<std::int64_t>& values) {
  return oa::Tensor::from_vector(values, {static_cast<std::int64_t>(values.size())});
}

// Uniform values in [-1, 1), float32.
inline oa::Tensor random_f32(const oa::Shape& shape, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(oa::shape_numel(shape)));
  for (auto& x : v) x = dist(rng);
  return f32(v, shape);
}

}  // namespace test
