#pragma once
// The two CPU convolution engines behind the conv2d kernels of dispatch.h, and the choice
// between them (cpu/conv2d_engine.cpp):
//   oneDNN  (cpu/conv2d_onednn.cpp): float32, the library PyTorch's CPU convolutions use;
//   im2col  (cpu/conv2d.cpp): ours, im2col + OpenBLAS GEMM, every floating dtype. It runs
//           float64 (gradcheck), and float32 when asked (tests compare the two engines).
// Each function has the contract of the dispatch.h kernel of the same name without prefix.
#include "framework/backend/cpu/kernels.h"

namespace oa::cpu {

void im2col_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g);
void im2col_conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g);
void im2col_conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g);

// float32 only.
void onednn_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g);
void onednn_conv2d_relu_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                                const Conv2dGeometry& g);
void onednn_conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g);
void onednn_conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g);

}  // namespace oa::cpu
