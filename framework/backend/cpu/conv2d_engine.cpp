// The conv2d kernels of the CPU back end: oneDNN for float32, our im2col engine for the other
// dtypes, or for everything when the process asked for it (set_cpu_conv_engine).
#include "framework/backend/cpu/conv2d_engine.h"
#include "framework/backend/cpu/elementwise.h"
#include "framework/backend/elementwise_math.h"

#include <atomic>

#include "framework/util/runtime.h"

namespace oa {

namespace {
std::atomic<CpuConvEngine> requested_engine{CpuConvEngine::automatic};
}  // namespace

void set_cpu_conv_engine(CpuConvEngine engine) { requested_engine.store(engine, std::memory_order_relaxed); }

CpuConvEngine cpu_conv_engine(DType dtype) {
  const CpuConvEngine requested = requested_engine.load(std::memory_order_relaxed);
  if (dtype != DType::Float32 || requested == CpuConvEngine::im2col) return CpuConvEngine::im2col;
  return CpuConvEngine::onednn;
}

}  // namespace oa

namespace oa::cpu {

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  if (cpu_conv_engine(x.dtype()) == CpuConvEngine::onednn) return onednn_conv2d_forward(x, w, bias, y, g);
  im2col_conv2d_forward(x, w, bias, y, g);
}

// im2col has no fused form: the convolution, then the ReLU in place.
void conv2d_relu_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  if (cpu_conv_engine(x.dtype()) == CpuConvEngine::onednn) return onednn_conv2d_relu_forward(x, w, bias, y, g);
  im2col_conv2d_forward(x, w, bias, y, g);
  map_unary(y, y, math::Relu{});
}

void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g) {
  if (cpu_conv_engine(grad_y.dtype()) == CpuConvEngine::onednn) return onednn_conv2d_backward_input(grad_y, w, grad_x, g);
  im2col_conv2d_backward_input(grad_y, w, grad_x, g);
}

void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g) {
  if (cpu_conv_engine(grad_y.dtype()) == CpuConvEngine::onednn) return onednn_conv2d_backward_weight(grad_y, x, grad_w, g);
  im2col_conv2d_backward_weight(grad_y, x, grad_w, g);
}

}  // namespace oa::cpu
