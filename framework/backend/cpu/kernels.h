#pragma once
// The CPU back end, in namespace oa::cpu. Its kernels have the names and parameters that
// framework/backend/dispatch.h declares (and documents) for both back ends; dispatch.h
// forwards CPU tensors here. This header adds what only the CPU back end has: the plain
// reference kernels the fast ones are tested against.
#include "framework/backend/dispatch.h"

namespace oa::cpu {

using backend::DimSplit;
using backend::split_at;

// ---- reference kernels: the definition as plain loops, slow and easy to read ------------------
// conv2d_forward by the textbook seven loops (cpu/conv2d_reference.cpp): OVERWRITES
//   y[n, co, oh, ow] = bias[co] + sum over the group's input channels c and the kernel window
//                      (kh, kw) of w[co, c, kh, kw] * x[n, group * C_in/groups + c, oh*s - p + kh, ow*s - p + kw],
// with zero padding; sums in double.
void conv2d_forward_reference(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g);

}  // namespace oa::cpu
