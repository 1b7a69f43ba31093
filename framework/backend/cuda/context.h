#pragma once
// The state of the CUDA back end, for its .cu files: the one stream every kernel, copy,
// cuBLAS and cuDNN call is queued on (so they run in program order and a freed block can be
// reused at once), one cuBLAS and one cuDNN handle per host thread bound to that stream, a
// grow-only cuDNN workspace with a cap, and the launch geometry of elementwise kernels.
#include <cstddef>
#include <cstdint>

#include "framework/backend/cuda/cuda_check.h"

namespace oa::cuda {

cudaStream_t stream();
cublasHandle_t cublas();
cudnnHandle_t cudnn();

// Device scratch memory of at least `bytes` (nullptr for 0), reused by the next call on this
// thread: it grows, never shrinks, and refuses (throws) beyond workspace_cap().
void* workspace(std::size_t bytes);
// The cap in bytes: OA_CUDNN_WORKSPACE_MB from the environment, 1024 MiB by default.
std::size_t workspace_cap();

// Elementwise kernels use grid-stride loops: kThreads threads a block and enough blocks to
// cover n elements, capped (the loop covers the rest).
constexpr int kThreads = 256;
inline unsigned blocks_for(std::int64_t n) {
  const std::int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 ? 65535 : blocks));
}

// Inside a kernel: this thread's flat index in the grid, and the number of threads in the
// grid (the step of a grid-stride loop).
__device__ inline std::int64_t thread_index() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline std::int64_t thread_count() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

}  // namespace oa::cuda
