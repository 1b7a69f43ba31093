#pragma once
// The CUDA back end: the same kernel names as framework/backend/dispatch.h (which documents
// each one), in namespace oa::cuda. dispatch.cpp forwards CUDA tensors here. Every tensor a
// kernel receives lives on the GPU (dispatch checks that); every kernel is queued on the
// back end's one stream (context.h), so kernels, cuBLAS and cuDNN calls run in order.
//
// This header is plain C++ (no CUDA types): the ops, compiled by the host compiler, include
// it through dispatch.h. The templates below are defined in elementwise.cu and instantiated
// there for every functor of framework/ops/elementwise_math.h; a functor added there must be
// added to that list too (the link fails otherwise, naming the missing instantiation).
#include <cstdint>

#include "framework/backend/geometry.h"
#include "framework/core/tensor.h"

namespace oa::cuda {

using backend::Conv2dGeometry;
using backend::Pool2dGeometry;
using backend::DimSplit;
using backend::split_at;

// ---- basic (elementwise.cu) ------------------------------------------------------------
void fill(Tensor& t, double value);
void cast(const Tensor& src, Tensor& dst);
void axpy(double alpha, const Tensor& x, Tensor& y);
Tensor add(const Tensor& a, const Tensor& b);
void transpose2d(const Tensor& x, Tensor& y);

// ---- elementwise, generic over the functor (elementwise.cu) -----------------------------
template <class F>
void map_unary(const Tensor& x, Tensor& y, const F& f);
template <class F>
void map_unary_backward(const Tensor& x, const Tensor& y, const Tensor& grad_y, Tensor& grad_x, const F& f);
template <class F>
void map_binary(const Tensor& a, const Tensor& b, Tensor& out, const F& f);
template <class G>
void map_binary_grad(const Tensor& a, const Tensor& b, const Tensor& grad, Tensor& out, const G& g);

// ---- reductions (reduce.cu) --------------------------------------------------------------
void sum_dims(const Tensor& x, Tensor& out);
void expand_to(const Tensor& x, Tensor& out);
void max_dim(const Tensor& x, int dim, Tensor& values, Tensor& indices);
void max_dim_backward(const Tensor& grad_values, const Tensor& indices, int dim, Tensor& grad_x);

// ---- matrix products (gemm.cu: cuBLAS) ---------------------------------------------------
void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha, double beta);
void add_row_bias(const Tensor& bias, Tensor& out);
void sum_rows(const Tensor& grad, Tensor& grad_bias);

// ---- convolution (conv2d.cu: cuDNN) --------------------------------------------------------
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g);
void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g);
void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g);
void conv2d_backward_bias(const Tensor& grad_y, Tensor& grad_b);

// ---- batch normalisation (batchnorm2d.cu: cuDNN for training, our kernels for eval) ------
void batchnorm2d_train_forward(const Tensor& x, const Tensor* gamma, const Tensor* beta, Tensor& running_mean,
                               Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                               Tensor& save_invstd);
void batchnorm2d_train_backward(const Tensor& grad_y, const Tensor& x, const Tensor* gamma,
                                const Tensor& save_mean, const Tensor& save_invstd, Tensor* grad_x,
                                Tensor* grad_gamma, Tensor* grad_beta);
void channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y);
void channel_sums(const Tensor& grad_y, const Tensor* x, Tensor& sum_grad, Tensor* sum_grad_x);

// ---- pooling (pool2d.cu) -------------------------------------------------------------------
void maxpool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g);
void maxpool2d_backward(const Tensor& grad_y, const Tensor& indices, Tensor& grad_x, const Pool2dGeometry& g);
void avgpool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g);
void avgpool2d_backward(const Tensor& grad_y, Tensor& grad_x, const Pool2dGeometry& g);

// ---- rows of logits (logits.cu) ------------------------------------------------------------
void log_softmax_forward(const Tensor& x, Tensor& y);
void log_softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x);
void gather_rows(const Tensor& x, const Tensor& index, Tensor& out);
void gather_rows_backward(const Tensor& grad_out, const Tensor& index, Tensor& grad_x);
void margin_forward(const Tensor& x, const Tensor& labels, Tensor& margin, Tensor& runner_up);
void margin_backward(const Tensor& grad_margin, const Tensor& labels, const Tensor& runner_up, Tensor& grad_x);
void one_hot(const Tensor& labels, Tensor& out);

// ---- optimiser updates (optim.cu) ----------------------------------------------------------
void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, double lr, double momentum, bool nesterov,
              double weight_decay);
void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1, double beta2,
               double eps, double weight_decay, std::int64_t step);

// ---- rows of per-sample state (rows.cu) -----------------------------------------------
void where_rows(const Tensor& mask, const Tensor& a, const Tensor& b, Tensor& out);
void row_adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_size,
                   const Tensor& v_correction, double beta1, double beta2, double eps);

}  // namespace oa::cuda
