#pragma once
// The checks and output geometry shared by the dense and the sparse convolution ops.
#include "framework/backend/geometry.h"
#include "framework/core/tensor.h"

namespace oa {

// x [N, C_in, H, W] and a weight of shape w [C_out, C_in/groups, KH, KW]; throws, naming
// `op` and the shapes, when they do not fit together.
backend::Conv2dGeometry conv2d_geometry(const Tensor& x, const Shape& w, std::int64_t stride, std::int64_t padding,
                                        std::int64_t groups, const char* op);

}  // namespace oa
