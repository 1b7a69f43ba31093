#pragma once
// The CPU back end: the same kernel names as framework/backend/dispatch.h (which documents
// each one), in namespace oa::cpu. dispatch.cpp forwards CPU tensors here.
#include "framework/backend/cpu/elementwise.h"
#include "framework/backend/geometry.h"
#include "framework/core/csr.h"
#include "framework/core/tensor.h"

namespace oa::cpu {

using backend::Conv2dGeometry;
using backend::Pool2dGeometry;
using backend::DimSplit;
using backend::split_at;

void fill(Tensor& t, double value);
void cast(const Tensor& src, Tensor& dst);             // any dtype to any dtype, same shape
void axpy(double alpha, const Tensor& x, Tensor& y);   // y += alpha * x (same shape)
Tensor add(const Tensor& a, const Tensor& b);          // a + b (same shape), for gradient sums
void transpose2d(const Tensor& x, Tensor& y);          // y[j, i] = x[i, j]

void sum_dims(const Tensor& x, Tensor& out);
void expand_to(const Tensor& x, Tensor& out);
void max_dim(const Tensor& x, int dim, Tensor& values, Tensor& indices);
void max_dim_backward(const Tensor& grad_values, const Tensor& indices, int dim, Tensor& grad_x);

void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, double alpha = 1.0,
            double beta = 0.0);
void add_row_bias(const Tensor& bias, Tensor& out);
void sum_rows(const Tensor& grad, Tensor& grad_bias);

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g);
void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g);
void sparse_conv2d_forward(const Tensor& x, const CsrMatrix& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g);
void sparse_conv2d_backward_input(const Tensor& grad_y, const CsrMatrix& w, Tensor& grad_x, const Conv2dGeometry& g);
void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g);
void conv2d_backward_bias(const Tensor& grad_y, Tensor& grad_b);  // sum over N, H, W

void batchnorm2d_train_forward(const Tensor& x, const Tensor* gamma, const Tensor* beta, Tensor& running_mean,
                               Tensor& running_var, double momentum, double eps, Tensor& y, Tensor& save_mean,
                               Tensor& save_invstd);
void batchnorm2d_train_backward(const Tensor& grad_y, const Tensor& x, const Tensor* gamma,
                                const Tensor& save_mean, const Tensor& save_invstd, Tensor* grad_x,
                                Tensor* grad_gamma, Tensor* grad_beta);
void channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift, Tensor& y);
void channel_sums(const Tensor& grad_y, const Tensor* x, Tensor& sum_grad, Tensor* sum_grad_x);

void maxpool2d_forward(const Tensor& x, Tensor& y, Tensor& indices, const Pool2dGeometry& g);
void maxpool2d_backward(const Tensor& grad_y, const Tensor& indices, Tensor& grad_x, const Pool2dGeometry& g);
void avgpool2d_forward(const Tensor& x, Tensor& y, const Pool2dGeometry& g);
void avgpool2d_backward(const Tensor& grad_y, Tensor& grad_x, const Pool2dGeometry& g);

void log_softmax_forward(const Tensor& x, Tensor& y);
void log_softmax_backward(const Tensor& y, const Tensor& grad_y, Tensor& grad_x);
void gather_rows(const Tensor& x, const Tensor& index, Tensor& out);
void gather_rows_backward(const Tensor& grad_out, const Tensor& index, Tensor& grad_x);
void margin_forward(const Tensor& x, const Tensor& labels, Tensor& margin, Tensor& runner_up);
void margin_backward(const Tensor& grad_margin, const Tensor& labels, const Tensor& runner_up, Tensor& grad_x);
void one_hot(const Tensor& labels, Tensor& out);  // out is [N, C], zero-filled here

void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, double lr, double momentum, bool nesterov,
              double weight_decay);
void adam_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, double lr, double beta1, double beta2,
               double eps, double weight_decay, std::int64_t step);

void where_rows(const Tensor& mask, const Tensor& a, const Tensor& b, Tensor& out);
void row_adam_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_size,
                   const Tensor& v_correction, double beta1, double beta2, double eps);

}  // namespace oa::cpu
