#pragma once
// Geometry of the convolution and pooling kernels, shared by every back end.
#include <cstdint>
#include <vector>

namespace oa::backend {

struct Conv2dGeometry {
  std::int64_t batch, in_channels, in_h, in_w;
  std::int64_t out_channels, kernel_h, kernel_w;
  std::int64_t stride, padding, groups;
  std::int64_t out_h, out_w;
};

struct Pool2dGeometry {
  std::int64_t batch, channels, in_h, in_w;
  std::int64_t kernel, stride, padding;
  std::int64_t out_h, out_w;
};

// A tensor of `shape` viewed as [outer, n, inner] around dimension `dim` (max over one dim).
struct DimSplit {
  std::int64_t outer = 1, n = 1, inner = 1;
};
inline DimSplit split_at(const std::vector<std::int64_t>& shape, int dim) {
  DimSplit s;
  for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
    if (d < dim) s.outer *= shape[d];
    else if (d == dim) s.n = shape[d];
    else s.inner *= shape[d];
  }
  return s;
}

}  // namespace oa::backend
