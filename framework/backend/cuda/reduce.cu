// CUDA reductions: sum over any set of dims (and its backward, expand), max over one dim
// (and its backward). Each mirrors its CPU twin in framework/backend/cpu/reduce.cpp; sums
// accumulate in the tensor's own type, as there. No atomics: every output element is
// written by one thread (or one block), so results do not depend on scheduling.
#include <cmath>
#include <cstdint>
#include <utility>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/kernels.h"
#include "framework/backend/elementwise_math.h"

namespace oa::cuda {

namespace {

constexpr int kMaxRank = 8;

template <class T>
__device__ inline T negative_infinity() {
  return -static_cast<T>(INFINITY);
}

// The sum of v over the threads of a block of kThreads threads (a power of two), by a tree
// in shared memory; every thread gets the result. Every thread of the block must call it.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T partial[kThreads];
  const int tid = static_cast<int>(threadIdx.x);
  partial[tid] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (tid < half) partial[tid] += partial[tid + half];
    __syncthreads();
  }
  const T total = partial[0];
  __syncthreads();  // everyone has read partial[0] before a next call overwrites it
  return total;
}

// ---- sum_dims ----------------------------------------------------------------------------

// x's dims split into those out keeps and those it sums away, each with its size and x's
// stride. Size-1 dims of x are dropped and neighbouring dims of the same kind merged (x is
// contiguous, so a run of kept or of reduced dims is one dim of their product size).
struct ReduceIndex {
  int kept_rank = 0;
  std::int64_t kept_size[kMaxRank] = {};
  std::int64_t kept_stride[kMaxRank] = {};
  int reduced_rank = 0;
  std::int64_t reduced_size[kMaxRank] = {};
  std::int64_t reduced_stride[kMaxRank] = {};
  bool innermost_reduced = false;  // whether x's last non-trivial dim is summed away
};

// The offset of the i-th point (row-major over `size`, last dim fastest) with `stride`.
__host__ __device__ inline std::int64_t offset_of(std::int64_t i, int rank, const std::int64_t* size,
                                                  const std::int64_t* stride) {
  std::int64_t offset = 0;
  for (int d = rank - 1; d >= 0; --d) {
    offset += (i % size[d]) * stride[d];
    i /= size[d];
  }
  return offset;
}

// partial[blockIdx.x] = sum of the x[i] this block visits (a grid-stride loop over all of
// x): the first pass of a full reduction; a second launch with one block sums the partials.
template <class T>
__global__ void sum_all_kernel(const T* x, std::int64_t n, T* partial) {
  T acc = 0;
  for (std::int64_t i = thread_index(); i < n; i += thread_count()) acc += x[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// out[o] = sum_k x[base(o) + offset(k)], one thread per output element (few terms each, or
// many outputs whose neighbours read neighbouring addresses).
template <class T>
__global__ void sum_thread_per_output_kernel(const T* x, T* out, std::int64_t n_out, std::int64_t n_reduced,
                                             ReduceIndex ri) {
  for (std::int64_t o = thread_index(); o < n_out; o += thread_count()) {
    const std::int64_t base = offset_of(o, ri.kept_rank, ri.kept_size, ri.kept_stride);
    T acc = 0;
    for (std::int64_t k = 0; k < n_reduced; ++k)
      acc += x[base + offset_of(k, ri.reduced_rank, ri.reduced_size, ri.reduced_stride)];
    out[o] = acc;
  }
}

// The same sum with one block per output element: its threads share the terms, then add
// their partial sums with block_sum. The loop over o is the same for the whole block.
template <class T>
__global__ void sum_block_per_output_kernel(const T* x, T* out, std::int64_t n_out, std::int64_t n_reduced,
                                            ReduceIndex ri) {
  for (std::int64_t o = blockIdx.x; o < n_out; o += gridDim.x) {
    const std::int64_t base = offset_of(o, ri.kept_rank, ri.kept_size, ri.kept_stride);
    T acc = 0;
    for (std::int64_t k = threadIdx.x; k < n_reduced; k += blockDim.x)
      acc += x[base + offset_of(k, ri.reduced_rank, ri.reduced_size, ri.reduced_stride)];
    acc = block_sum(acc);
    if (threadIdx.x == 0) out[o] = acc;
  }
}

ReduceIndex make_reduce_index(const Shape& x_shape, const Shape& out_shape) {
  const std::size_t rank = x_shape.size();
  OA_CHECK(out_shape.size() <= rank, "sum_dims: output {} has more dims than the input {}", shape_str(out_shape),
           shape_str(x_shape));
  const std::size_t lead = rank - out_shape.size();  // out aligned to the right, as in broadcasting
  ReduceIndex ri;
  std::int64_t stride = 1;  // x's contiguous stride of dim d
  int last_kind = -1;       // kind of the previous (inner) dim added: 0 kept, 1 reduced
  for (std::size_t d = rank; d-- > 0;) {
    const std::int64_t size = x_shape[d];
    const std::int64_t out_size = d < lead ? 1 : out_shape[d - lead];
    OA_CHECK(out_size == size || out_size == 1, "sum_dims: output {} is not a reduction of {}",
             shape_str(out_shape), shape_str(x_shape));
    if (size != 1) {
      const int kind = out_size == 1 ? 1 : 0;
      if (last_kind < 0) ri.innermost_reduced = kind == 1;
      int& r = kind == 1 ? ri.reduced_rank : ri.kept_rank;
      std::int64_t* sizes = kind == 1 ? ri.reduced_size : ri.kept_size;
      std::int64_t* strides = kind == 1 ? ri.reduced_stride : ri.kept_stride;
      // Dims are visited from the last one, so the list is built inner-first and reversed below.
      if (kind == last_kind) {
        sizes[r - 1] *= size;  // the same kind as its inner neighbour: merge (stride stays the inner one)
      } else {
        OA_CHECK(r < kMaxRank, "sum_dims: the CUDA back end reduces up to {} separate dims, got {} -> {}",
                 kMaxRank, shape_str(x_shape), shape_str(out_shape));
        sizes[r] = size;
        strides[r] = stride;
        ++r;
      }
      last_kind = kind;
    }
    stride *= size;
  }
  // Outer dims first (offset_of takes the last dim as the fastest).
  for (int i = 0, j = ri.kept_rank - 1; i < j; ++i, --j) {
    std::swap(ri.kept_size[i], ri.kept_size[j]);
    std::swap(ri.kept_stride[i], ri.kept_stride[j]);
  }
  for (int i = 0, j = ri.reduced_rank - 1; i < j; ++i, --j) {
    std::swap(ri.reduced_size[i], ri.reduced_size[j]);
    std::swap(ri.reduced_stride[i], ri.reduced_stride[j]);
  }
  return ri;
}

// ---- expand_to ---------------------------------------------------------------------------

// out's sizes and x's strides seen from out (0 along the dims where x has 1 or is missing).
struct ExpandIndex {
  int rank = 0;
  std::int64_t size[kMaxRank] = {};
  std::int64_t stride[kMaxRank] = {};
};

// out[i] = x[offset of i's coordinates in x]
template <class T>
__global__ void expand_kernel(const T* x, T* out, std::int64_t n, ExpandIndex ei) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count())
    out[i] = x[offset_of(i, ei.rank, ei.size, ei.stride)];
}

ExpandIndex make_expand_index(const Shape& x_shape, const Shape& out_shape) {
  const std::size_t rank = out_shape.size();
  OA_CHECK(rank <= static_cast<std::size_t>(kMaxRank), "expand_to: the CUDA back end expands up to {} dims, got {}",
           kMaxRank, shape_str(out_shape));
  OA_CHECK(x_shape.size() <= rank, "expand_to: {} has more dims than {}", shape_str(x_shape), shape_str(out_shape));
  const std::size_t lead = rank - x_shape.size();
  ExpandIndex ei;
  ei.rank = static_cast<int>(rank);
  std::int64_t stride = 1;  // x's contiguous stride of dim d
  for (std::size_t d = rank; d-- > 0;) {
    ei.size[d] = out_shape[d];
    if (d < lead) continue;  // stride 0 (value-initialised)
    const std::int64_t size = x_shape[d - lead];
    ei.stride[d] = size == 1 ? 0 : stride;
    stride *= size;
  }
  return ei;
}

// ---- max_dim -------------------------------------------------------------------------------

// values[o, in] = max_k x[o, k, in], indices[o, in] = the first k reaching it (the CPU's rule,
// math::beats_max from -inf: the first NaN wins). One thread per output element.
template <class T>
__global__ void max_dim_kernel(const T* x, T* values, std::int64_t* indices, DimSplit s) {
  const std::int64_t n_out = s.outer * s.inner;
  for (std::int64_t i = thread_index(); i < n_out; i += thread_count()) {
    const std::int64_t o = i / s.inner, in = i % s.inner;
    T best = negative_infinity<T>();
    std::int64_t arg = 0;
    for (std::int64_t k = 0; k < s.n; ++k) {
      const T v = x[(o * s.n + k) * s.inner + in];
      if (math::beats_max(v, best)) best = v, arg = k;
    }
    values[i] = best;
    indices[i] = arg;
  }
}

// grad_x[o, k, in] = (k == indices[o, in]) ? grad_values[o, in] : 0, one thread per element
// of grad_x: the zero fill and the scatter in one pass.
template <class T>
__global__ void max_dim_backward_kernel(const T* grad_values, const std::int64_t* indices, T* grad_x, DimSplit s) {
  const std::int64_t n = s.outer * s.n * s.inner;
  for (std::int64_t e = thread_index(); e < n; e += thread_count()) {
    const std::int64_t in = e % s.inner, rest = e / s.inner;
    const std::int64_t k = rest % s.n, o = rest / s.n;
    const std::int64_t i = o * s.inner + in;
    grad_x[e] = indices[i] == k ? grad_values[i] : T(0);
  }
}

}  // namespace

void sum_dims(const Tensor& x, Tensor& out) {
  dispatch_floating(x.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const std::int64_t n = x.numel(), n_out = out.numel();
    if (n_out == 0) return;
    if (n == 0) {  // an empty sum is 0 (x may be empty along a reduced dim only)
      OA_CUDA_CHECK(cudaMemsetAsync(po, 0, out.nbytes(), stream()));
      return;
    }
    if (n_out == 1) {  // full reduction: block partial sums, then one block adds them up
      constexpr unsigned kMaxPartials = 1024;
      const unsigned blocks = blocks_for(n) < kMaxPartials ? blocks_for(n) : kMaxPartials;
      if (blocks == 1) {
        sum_all_kernel<T><<<1, kThreads, 0, stream()>>>(px, n, po);
        OA_CUDA_LAUNCH_CHECK();
        return;
      }
      // Freed on return while the kernels may still be queued: safe, as every kernel runs
      // on the one stream (cuda_memory.h).
      Tensor partial = Tensor::empty({static_cast<std::int64_t>(blocks)}, x.dtype(), Device::CUDA);
      sum_all_kernel<T><<<blocks, kThreads, 0, stream()>>>(px, n, partial.data<T>());
      OA_CUDA_LAUNCH_CHECK();
      sum_all_kernel<T><<<1, kThreads, 0, stream()>>>(partial.data<T>(), blocks, po);
      OA_CUDA_LAUNCH_CHECK();
      return;
    }
    const ReduceIndex ri = make_reduce_index(x.shape(), out.shape());
    const std::int64_t n_reduced = n / n_out;
    // A block per output when each has many terms and either the terms are contiguous
    // (the last dim is reduced) or there are too few outputs to keep the GPU busy.
    const bool block_per_output = n_reduced >= 32 && (ri.innermost_reduced || n_out < 2048);
    if (block_per_output) {
      const unsigned blocks = static_cast<unsigned>(n_out < 65535 ? n_out : 65535);
      sum_block_per_output_kernel<T><<<blocks, kThreads, 0, stream()>>>(px, po, n_out, n_reduced, ri);
    } else {
      sum_thread_per_output_kernel<T><<<blocks_for(n_out), kThreads, 0, stream()>>>(px, po, n_out, n_reduced, ri);
    }
    OA_CUDA_LAUNCH_CHECK();
  });
}

void expand_to(const Tensor& x, Tensor& out) {
  dispatch_floating(x.dtype(), "expand", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const std::int64_t n = out.numel();
    if (n == 0) return;
    const ExpandIndex ei = make_expand_index(x.shape(), out.shape());
    expand_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(px, po, n, ei);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void max_dim(const Tensor& x, int dim, Tensor& values, Tensor& indices) {
  const DimSplit s = split_at(x.shape(), dim);
  dispatch_floating(x.dtype(), "max", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    std::int64_t* pi = indices.data<std::int64_t>();
    const std::int64_t n_out = s.outer * s.inner;
    if (n_out == 0) return;
    max_dim_kernel<T><<<blocks_for(n_out), kThreads, 0, stream()>>>(px, pv, pi, s);
    OA_CUDA_LAUNCH_CHECK();
  });
}

void max_dim_backward(const Tensor& grad_values, const Tensor& indices, int dim, Tensor& grad_x) {
  const DimSplit s = split_at(grad_x.shape(), dim);
  dispatch_floating(grad_x.dtype(), "max backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = grad_values.data<T>();
    const std::int64_t* pi = indices.data<std::int64_t>();
    T* pgx = grad_x.data<T>();
    const std::int64_t n = grad_x.numel();
    if (n == 0) return;
    max_dim_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(pg, pi, pgx, s);
    OA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace oa::cuda
