#pragma once
// The CUDA back end, in namespace oa::cuda. Its kernels have the names and parameters that
// framework/backend/dispatch.h declares (and documents) for both back ends; dispatch.h
// forwards CUDA tensors here. Every tensor a kernel receives lives on the GPU (dispatch checks
// that); every kernel is queued on the back end's one stream (context.h), so kernels, cuBLAS
// and cuDNN calls run in order.
//
// This header is plain C++ (no CUDA types): dispatch.h, compiled by the host compiler,
// includes it. The templates below are defined in elementwise.cu and instantiated there for
// every functor of framework/backend/elementwise_math.h; a functor added there must be added
// to that list too (the link fails otherwise, naming the missing instantiation).
#include "framework/backend/geometry.h"
#include "framework/core/tensor.h"

namespace oa::cuda {

using backend::Conv2dGeometry;
using backend::DimSplit;
using backend::Pool2dGeometry;
using backend::split_at;

// ---- elementwise, generic over the functor (elementwise.cu) -----------------------------
template <class F>
void map_unary(const Tensor& x, Tensor& y, const F& f);
template <class F>
void map_unary_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, Tensor& grad_x, const F& f);
template <class F>
void map_binary(const Tensor& a, const Tensor& b, Tensor& out, const F& f);
template <class G>
void map_binary_grad(const Tensor& a, const Tensor& b, const Tensor& grad, Tensor& out, const G& g);

}  // namespace oa::cuda
