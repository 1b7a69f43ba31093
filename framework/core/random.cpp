#include "framework/core/random.h"

#include <vector>

namespace oa {

namespace {
template <class Draw>
Tensor filled(const Shape& shape, DType dtype, Draw&& draw) {
  std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& v : values) v = draw();
  return Tensor::from_vector(values, shape).to(dtype);
}
}  // namespace

Tensor randn(const Shape& shape, Rng& rng, double stddev, DType dtype) {
  return filled(shape, dtype, [&] { return rng.normal(0.0, stddev); });
}

Tensor rand_uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype) {
  return filled(shape, dtype, [&] { return rng.uniform(lo, hi); });
}

}  // namespace oa
