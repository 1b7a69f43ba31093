#pragma once
// Seeded random numbers: every run of the study is reproducible from its --seed.
#include <cstdint>
#include <random>

#include "framework/core/tensor.h"

namespace oa {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  double normal(double mean = 0.0, double stddev = 1.0) { return std::normal_distribution<double>(mean, stddev)(engine_); }
  double uniform(double lo = 0.0, double hi = 1.0) { return std::uniform_real_distribution<double>(lo, hi)(engine_); }
  std::uint64_t next() { return engine_(); }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

// New CPU tensors filled from rng: N(mean, stddev^2) and U[lo, hi).
Tensor randn(const Shape& shape, Rng& rng, double stddev = 1.0, DType dtype = DType::Float32);
Tensor rand_uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype = DType::Float32);

}  // namespace oa
