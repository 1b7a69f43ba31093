// Convolution on the GPU with cuDNN (cross-correlation, NCHW, groups):
//   y[n, co, oh, ow] = b[co] + sum_{ci, kh, kw} w[co, ci, kh, kw] * x[n, ci, oh*s - p + kh, ow*s - p + kw]
//   conv2d_relu_forward:    max(0, y), in cuDNN's fused bias-activation call
//   conv2d_backward_input:  grad_x = the transposed convolution of grad_y with w   (cuDNN "backward data")
//   conv2d_backward_weight: grad_w = the correlation of grad_y with x              (cuDNN "backward filter")
//   conv2d_backward_bias:   grad_b[co] = sum of grad_y[:, co, :, :]
// Every output is overwritten (beta = 0), as on the CPU.
//
// Algorithms: the first time a configuration (kind, dtype, shapes, stride, padding, groups)
// is seen, cudnnFind*Algorithm times every algorithm cuDNN has for it and we keep the
// fastest that succeeded, is precise enough (precise_enough below: for float32 FMA math and
// no Winograd or FFT) and needs no more workspace than workspace_cap(); later calls take it,
// and the workspace size the search measured for it, from the cache. The search allocates
// memory of its own and waits for the GPU, once per configuration; a normal call does neither.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/cuda_memory.h"
#include "framework/backend/cuda/cudnn_descriptors.h"
#include "framework/backend/cuda/kernels.h"
#include "framework/backend/elementwise_math.h"

namespace oa::cuda {

namespace {

enum class ConvKind : int { Forward, BackwardData, BackwardFilter };

const char* kind_name(ConvKind kind) {
  switch (kind) {
    case ConvKind::Forward: return "conv2d";
    case ConvKind::BackwardData: return "conv2d backward (input)";
    case ConvKind::BackwardFilter: return "conv2d backward (weight)";
  }
  return "conv2d";
}

// What the choice of algorithm depends on (the output size follows from the rest).
struct ConvKey {
  ConvKind kind;
  DType dtype;
  std::int64_t n, c, h, w, k, kh, kw, stride, padding, groups;
  auto tie() const { return std::tie(kind, dtype, n, c, h, w, k, kh, kw, stride, padding, groups); }
  bool operator<(const ConvKey& other) const { return tie() < other.tie(); }
};

ConvKey make_key(ConvKind kind, DType dtype, const Conv2dGeometry& g) {
  return {kind,     dtype,    g.batch,  g.in_channels, g.in_h,    g.in_w,    g.out_channels,
          g.kernel_h, g.kernel_w, g.stride, g.padding, g.groups};
}

std::string describe_key(const ConvKey& k) {
  return fmt::format("{} {} x [{}, {}, {}, {}], w [{}, {}, {}, {}], stride {}, padding {}, groups {}",
                     kind_name(k.kind), dtype_name(k.dtype), k.n, k.c, k.h, k.w, k.k, k.c / k.groups, k.kh, k.kw,
                     k.stride, k.padding, k.groups);
}

// The descriptors of one convolution: x [N, C_in, H, W], w [C_out, C_in/groups, KH, KW],
// y [N, C_out, OH, OW]. The backward kernels use the same ones for grad_x / grad_w / grad_y.
struct ConvDescriptors {
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
  ConvDescriptors(DType dtype, const Conv2dGeometry& g)
      : x(dtype, g.batch, g.in_channels, g.in_h, g.in_w),
        y(dtype, g.batch, g.out_channels, g.out_h, g.out_w),
        w(dtype, g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w),
        conv(dtype, g.stride, g.padding, g.groups) {}
};

// Whether a result of cudnnFind* is allowed for `dtype`. float32 must match the CPU back end to
// ~1e-5 (tests/cuda/cuda_compare.h), so for float32 we accept:
//  - only CUDNN_FMA_MATH: the tensor-op math types are TF32 (10-bit mantissas), and so can
//    CUDNN_DEFAULT_MATH be on sm_80 and later;
//  - no Winograd or FFT algorithm: both compute in a transformed domain whose rounding error
//    grows with the transform (Winograd's larger tiles lose one to two digits in float32; Lavin
//    and Gray 2016), beyond what the float32 tolerance of the tests allows. What is left (the
//    implicit/explicit GEMM and direct algorithms) sums the same products as our im2col + GEMM.
// float64 has no reduced-precision tensor-op math and rounding 1e-16: only the tensor-op math
// types are refused there (a cautious reading of "may convert").
bool transforms_domain(cudnnConvolutionFwdAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT || algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD || algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}
bool transforms_domain(cudnnConvolutionBwdDataAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
         algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
}
bool transforms_domain(cudnnConvolutionBwdFilterAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
         algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
}

template <class Perf>
bool precise_enough(const Perf& result, DType dtype) {
  if (dtype == DType::Float32) return result.mathType == CUDNN_FMA_MATH && !transforms_domain(result.algo);
  return result.mathType != CUDNN_TENSOR_OP_MATH && result.mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// An algorithm chosen for a configuration, with the workspace it needs: the size cudnnFind*
// measured and we checked against the cap, which is then the size we allocate and pass.
struct Choice {
  int algo = -1;  // -1: none usable
  std::size_t workspace_bytes = 0;
};

// The outcome of one search: a choice, or that cudnnFind* could not allocate its own buffers.
struct Search {
  Choice choice;
  bool out_of_memory = false;
};

// The fastest usable result of a search that returned `find_status` (cuDNN sorts the results
// by time, fastest first). CUDNN_STATUS_ALLOC_FAILED is not an error here: the caller empties
// our cache and searches again; any other failure throws.
template <class Perf>
Search choose(cudnnStatus_t find_status, const std::vector<Perf>& results, int returned, DType dtype) {
  if (find_status == CUDNN_STATUS_ALLOC_FAILED) return {{}, true};
  OA_CUDNN_CHECK(find_status);
  for (int i = 0; i < returned; ++i) {
    const Perf& r = results[static_cast<std::size_t>(i)];
    if (r.status == CUDNN_STATUS_SUCCESS && r.memory <= workspace_cap() && precise_enough(r, dtype))
      return {{static_cast<int>(r.algo), r.memory}, false};
  }
  return {};
}

// The chosen algorithm of every configuration seen so far (as an int: the three kinds have
// three enum types), shared by all threads.
std::mutex g_cache_mutex;
std::map<ConvKey, Choice> g_algorithm_cache;

// The choice for `key`: from the cache, or found by `find` (a Search). The search runs outside
// the lock; if two threads race on the same new configuration both search and the first to
// finish is kept.
template <class Find>
Choice cached_algorithm(const ConvKey& key, Find&& find) {
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    const auto it = g_algorithm_cache.find(key);
    if (it != g_algorithm_cache.end()) return it->second;
  }
  Search search = find();
  if (search.choice.algo < 0) {
    // The search allocates its own buffers with cudaMalloc (as does every algorithm it times);
    // our caching allocator may hold the memory they need. Hand the cache back to the driver
    // and search once more.
    empty_cache();
    search = find();
  }
  OA_CHECK(!search.out_of_memory, "{}: cudnnFind* ran out of device memory, even with our cache emptied",
           describe_key(key));
  OA_CHECK(search.choice.algo >= 0, "{}: no cuDNN algorithm succeeded within the workspace cap of {} MiB{} "
           "(raise OA_CUDNN_WORKSPACE_MB)", describe_key(key), workspace_cap() >> 20,
           key.dtype == DType::Float32 ? " in FMA math without Winograd or FFT" : "");
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  return g_algorithm_cache.emplace(key, search.choice).first->second;
}

Choice forward_algorithm(const ConvDescriptors& d, const ConvKey& key) {
  return cached_algorithm(key, [&] {
    int count = 0, returned = 0;
    OA_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(cudnn(), &count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> results(static_cast<std::size_t>(count));
    const cudnnStatus_t find_status = cudnnFindConvolutionForwardAlgorithm(
        cudnn(), d.x.get(), d.w.get(), d.conv.get(), d.y.get(), count, &returned, results.data());
    return choose(find_status, results, returned, key.dtype);
  });
}

Choice backward_data_algorithm(const ConvDescriptors& d, const ConvKey& key) {
  return cached_algorithm(key, [&] {
    int count = 0, returned = 0;
    OA_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnn(), &count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> results(static_cast<std::size_t>(count));
    const cudnnStatus_t find_status = cudnnFindConvolutionBackwardDataAlgorithm(
        cudnn(), d.w.get(), d.y.get(), d.conv.get(), d.x.get(), count, &returned, results.data());
    return choose(find_status, results, returned, key.dtype);
  });
}

Choice backward_filter_algorithm(const ConvDescriptors& d, const ConvKey& key) {
  return cached_algorithm(key, [&] {
    int count = 0, returned = 0;
    OA_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnn(), &count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> results(static_cast<std::size_t>(count));
    const cudnnStatus_t find_status = cudnnFindConvolutionBackwardFilterAlgorithm(
        cudnn(), d.x.get(), d.y.get(), d.conv.get(), d.w.get(), count, &returned, results.data());
    return choose(find_status, results, returned, key.dtype);
  });
}

// The forward algorithm of a configuration (cached) and a workspace for it.
struct ForwardRun {
  cudnnConvolutionFwdAlgo_t algo;
  void* scratch;
  std::size_t bytes;
};
ForwardRun prepare_forward(const ConvDescriptors& d, DType dtype, const Conv2dGeometry& g) {
  const Choice choice = forward_algorithm(d, make_key(ConvKind::Forward, dtype, g));
  return {static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), workspace(choice.workspace_bytes),
          choice.workspace_bytes};
}

void zero(Tensor& t) { OA_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, t.nbytes(), stream())); }

// y += b[co] over N, OH, OW (bias seen as a [1, C_out, 1, 1] tensor that cuDNN broadcasts).
template <class T>
void add_bias(const Tensor& bias, Tensor& y, const TensorDescriptor& y_desc) {
  const TensorDescriptor b_desc(y.dtype(), 1, bias.numel(), 1, 1);
  const T one = 1;
  OA_CUDNN_CHECK(cudnnAddTensor(cudnn(), &one, b_desc.get(), bias.data<T>(), &one, y_desc.get(), y.data<T>()));
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  if (y.numel() == 0) return;
  dispatch_floating(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    if (x.numel() == 0 || w.numel() == 0) {  // an empty sum (no input channels): y = b, or 0
      zero(y);
      if (bias) add_bias<T>(*bias, y, TensorDescriptor(y.dtype(), y.size(0), y.size(1), y.size(2), y.size(3)));
      return;
    }
    const ConvDescriptors d(x.dtype(), g);
    const ForwardRun run = prepare_forward(d, x.dtype(), g);
    // Scaling factors are host values of the tensors' type (float for float32, double for float64).
    const T one = 1, zero_scale = 0;
    OA_CUDNN_CHECK(cudnnConvolutionForward(cudnn(), &one, d.x.get(), x.data<T>(), d.w.get(), w.data<T>(), d.conv.get(),
                                           run.algo, run.scratch, run.bytes, &zero_scale, d.y.get(), y.data<T>()));
    if (bias) add_bias<T>(*bias, y, d.y);
  });
}

// cudnnConvolutionBiasActivationForward computes y = act(alpha1 * conv(x, w) + alpha2 * z + bias):
// here alpha1 = 1, alpha2 = 0 (z is y itself, not read) and act = ReLU. It needs a bias; a conv
// without one (or an empty one) runs as the convolution, then a ReLU kernel.
void conv2d_relu_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, const Conv2dGeometry& g) {
  if (!bias || y.numel() == 0 || x.numel() == 0 || w.numel() == 0) {
    conv2d_forward(x, w, bias, y, g);
    if (y.numel() > 0) map_unary(y, y, math::Relu{});
    return;
  }
  dispatch_floating(x.dtype(), "conv2d_relu", [&](auto tag) {
    using T = decltype(tag);
    const ConvDescriptors d(x.dtype(), g);
    const ForwardRun run = prepare_forward(d, x.dtype(), g);
    const TensorDescriptor b_desc(y.dtype(), 1, bias->numel(), 1, 1);
    const ReluDescriptor relu;
    const T one = 1, zero_scale = 0;
    OA_CUDNN_CHECK(cudnnConvolutionBiasActivationForward(
        cudnn(), &one, d.x.get(), x.data<T>(), d.w.get(), w.data<T>(), d.conv.get(), run.algo, run.scratch, run.bytes,
        &zero_scale, d.y.get(), y.data<T>(), b_desc.get(), bias->data<T>(), relu.get(), d.y.get(), y.data<T>()));
  });
}

void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, Tensor& grad_x, const Conv2dGeometry& g) {
  if (grad_x.numel() == 0) return;
  dispatch_floating(grad_y.dtype(), "conv2d backward (input)", [&](auto tag) {
    using T = decltype(tag);
    if (grad_y.numel() == 0 || w.numel() == 0) {  // no output channel reads x
      zero(grad_x);
      return;
    }
    const ConvDescriptors d(grad_y.dtype(), g);
    const Choice choice = backward_data_algorithm(d, make_key(ConvKind::BackwardData, grad_y.dtype(), g));
    const auto algo = static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo);
    const std::size_t bytes = choice.workspace_bytes;
    void* scratch = workspace(bytes);
    const T one = 1, zero_scale = 0;
    OA_CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn(), &one, d.w.get(), w.data<T>(), d.y.get(), grad_y.data<T>(),
                                                d.conv.get(), algo, scratch, bytes, &zero_scale, d.x.get(),
                                                grad_x.data<T>()));
  });
}

void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, Tensor& grad_w, const Conv2dGeometry& g) {
  if (grad_w.numel() == 0) return;
  dispatch_floating(grad_y.dtype(), "conv2d backward (weight)", [&](auto tag) {
    using T = decltype(tag);
    if (grad_y.numel() == 0 || x.numel() == 0) {  // an empty batch: the sum over it is 0
      zero(grad_w);
      return;
    }
    const ConvDescriptors d(grad_y.dtype(), g);
    const Choice choice = backward_filter_algorithm(d, make_key(ConvKind::BackwardFilter, grad_y.dtype(), g));
    const auto algo = static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo);
    const std::size_t bytes = choice.workspace_bytes;
    void* scratch = workspace(bytes);
    // beta = 0: grad_w is overwritten with the sum over the batch (the CPU zeroes it first too).
    const T one = 1, zero_scale = 0;
    OA_CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn(), &one, d.x.get(), x.data<T>(), d.y.get(), grad_y.data<T>(),
                                                  d.conv.get(), algo, scratch, bytes, &zero_scale, d.w.get(),
                                                  grad_w.data<T>()));
  });
}

void conv2d_backward_bias(const Tensor& grad_y, Tensor& grad_b) {
  if (grad_b.numel() == 0) return;
  dispatch_floating(grad_y.dtype(), "conv2d backward (bias)", [&](auto tag) {
    using T = decltype(tag);
    if (grad_y.numel() == 0) {
      zero(grad_b);
      return;
    }
    const TensorDescriptor dy_desc(grad_y.dtype(), grad_y.size(0), grad_y.size(1), grad_y.size(2), grad_y.size(3));
    const TensorDescriptor db_desc(grad_y.dtype(), 1, grad_y.size(1), 1, 1);
    const T one = 1, zero_scale = 0;
    OA_CUDNN_CHECK(cudnnConvolutionBackwardBias(cudnn(), &one, dy_desc.get(), grad_y.data<T>(), &zero_scale,
                                                db_desc.get(), grad_b.data<T>()));
  });
}

}  // namespace oa::cuda
