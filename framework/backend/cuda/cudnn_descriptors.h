#pragma once
// RAII wrappers for the cuDNN descriptors the CUDA back end uses: a 4-D tensor (NCHW), a
// filter (KCRS: output channels, input channels per group, rows, columns), a 2-D
// convolution and a ReLU activation. Each creates its cuDNN object in the constructor and
// destroys it in the destructor; they are neither copyable nor movable, so an object is
// destroyed exactly once.
// Every cuDNN call goes through OA_CUDNN_CHECK. Included by .cu files only.
#include <cstdint>
#include <limits>

#include "framework/backend/cuda/cuda_check.h"
#include "framework/core/dtype.h"

namespace oa::cuda {

// The cuDNN element type of a floating dtype (the back end's tensors are float32 or float64).
inline cudnnDataType_t cudnn_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return CUDNN_DATA_FLOAT;
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    default: break;
  }
  throw Error(fmt::format("cuDNN: expected a floating tensor, got {}", dtype_name(dtype)));
}

// cuDNN takes dimensions as int: refuse what does not fit instead of truncating.
inline int cudnn_dim(std::int64_t d, const char* what) {
  OA_CHECK(d >= 0 && d <= std::numeric_limits<int>::max(), "cuDNN: {} = {} does not fit in an int", what, d);
  return static_cast<int>(d);
}

class TensorDescriptor {
 public:
  // Unset: for cudnnDeriveBNTensorDescriptor, which fills it in.
  TensorDescriptor() { OA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_)); }
  // A packed NCHW tensor of [n, c, h, w].
  TensorDescriptor(DType dtype, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) : TensorDescriptor() {
    // Strides are int inside cuDNN too, so the whole tensor must be indexable by an int.
    OA_CHECK(n * c * h * w <= std::numeric_limits<int>::max(),
             "cuDNN: tensor [{}, {}, {}, {}] has more than 2^31-1 elements", n, c, h, w);
    // Note the argument order: format before data type (the filter call below is the other way round).
    OA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, cudnn_dtype(dtype), cudnn_dim(n, "N"),
                                              cudnn_dim(c, "C"), cudnn_dim(h, "H"), cudnn_dim(w, "W")));
  }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(desc_); }  // no throw from a destructor
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;

  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

class FilterDescriptor {
 public:
  // A convolution weight [k, c, h, w] = [C_out, C_in / groups, KH, KW], row-major.
  FilterDescriptor(DType dtype, std::int64_t k, std::int64_t c, std::int64_t h, std::int64_t w) {
    OA_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_));
    // Data type before format here; CUDNN_TENSOR_NCHW means the KCRS layout for a filter.
    OA_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, cudnn_dtype(dtype), CUDNN_TENSOR_NCHW, cudnn_dim(k, "K"),
                                              cudnn_dim(c, "C"), cudnn_dim(h, "KH"), cudnn_dim(w, "KW")));
  }
  ~FilterDescriptor() { cudnnDestroyFilterDescriptor(desc_); }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;

  cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

class ConvolutionDescriptor {
 public:
  // Cross-correlation (what deep-learning frameworks call convolution: the kernel is not
  // flipped) with the same stride and zero padding on both axes, no dilation, `groups`
  // groups, accumulating in the tensors' own type.
  ConvolutionDescriptor(DType dtype, std::int64_t stride, std::int64_t padding, std::int64_t groups) {
    OA_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_));
    const int s = cudnn_dim(stride, "stride"), p = cudnn_dim(padding, "padding");
    OA_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc_, p, p, s, s, /*dilation_h=*/1, /*dilation_w=*/1,
                                                   CUDNN_CROSS_CORRELATION, cudnn_dtype(dtype)));
    OA_CUDNN_CHECK(cudnnSetConvolutionGroupCount(desc_, cudnn_dim(groups, "groups")));
    // FMA math, not CUDNN_DEFAULT_MATH: on Ampere and later GPUs the default math type lets
    // cuDNN pick TF32 tensor-core kernels for float32 (10-bit mantissa inputs); FMA math
    // restricts it to kernels with full float32 (or float64) multiply-adds, so results stay
    // comparable with the CPU back end.
    OA_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, CUDNN_FMA_MATH));
  }
  ~ConvolutionDescriptor() { cudnnDestroyConvolutionDescriptor(desc_); }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;

  cudnnConvolutionDescriptor_t get() const { return desc_; }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
};

// max(0, x) for cudnnConvolutionBiasActivationForward. NaN propagates, as in our ReLU
// (elementwise_math.h). The coefficient (a clipping ceiling) is unused by plain ReLU.
class ReluDescriptor {
 public:
  ReluDescriptor() {
    OA_CUDNN_CHECK(cudnnCreateActivationDescriptor(&desc_));
    OA_CUDNN_CHECK(cudnnSetActivationDescriptor(desc_, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, /*coef=*/0.0));
  }
  ~ReluDescriptor() { cudnnDestroyActivationDescriptor(desc_); }
  ReluDescriptor(const ReluDescriptor&) = delete;
  ReluDescriptor& operator=(const ReluDescriptor&) = delete;

  cudnnActivationDescriptor_t get() const { return desc_; }

 private:
  cudnnActivationDescriptor_t desc_ = nullptr;
};

}  // namespace oa::cuda
