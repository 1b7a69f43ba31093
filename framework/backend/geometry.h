#pragma once
// Geometry of the convolution and pooling kernels, shared by every back end.
#include <cstdint>

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

}  // namespace oa::backend
