#include "framework/backend/cuda/context.h"

#include <cstdlib>
#include <string>

#include "framework/backend/cuda/cuda_memory.h"

namespace oa::cuda {

cudaStream_t stream() {
  // Created once, non-blocking so that other libraries' work on the legacy default stream
  // does not serialise with ours. Never destroyed: it lives as long as the process.
  static const cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    OA_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
    return created;
  }();
  return s;
}

namespace {
// Per-thread handles. They are not destroyed at thread exit: the CUDA context may already
// be gone by then (static destruction order), and the driver frees them with the process.
struct ThreadHandles {
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
};
thread_local ThreadHandles t_handles;
}  // namespace

cublasHandle_t cublas() {
  if (!t_handles.cublas) {
    OA_CUBLAS_CHECK(cublasCreate(&t_handles.cublas));
    OA_CUBLAS_CHECK(cublasSetStream(t_handles.cublas, stream()));
    // Exact float32 GEMMs (no TF32): the CUDA tests compare with the CPU back end.
    OA_CUBLAS_CHECK(cublasSetMathMode(t_handles.cublas, CUBLAS_DEFAULT_MATH));
  }
  return t_handles.cublas;
}

cudnnHandle_t cudnn() {
  if (!t_handles.cudnn) {
    OA_CUDNN_CHECK(cudnnCreate(&t_handles.cudnn));
    OA_CUDNN_CHECK(cudnnSetStream(t_handles.cudnn, stream()));
  }
  return t_handles.cudnn;
}

std::size_t workspace_cap() {
  static const std::size_t cap = [] {
    const char* env = std::getenv("OA_CUDNN_WORKSPACE_MB");
    const long mb = env ? std::strtol(env, nullptr, 10) : 1024;
    OA_CHECK(mb >= 0, "OA_CUDNN_WORKSPACE_MB must be a non-negative number of MiB, got '{}'", env ? env : "");
    return static_cast<std::size_t>(mb) << 20;
  }();
  return cap;
}

void* workspace(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  OA_CHECK(bytes <= workspace_cap(), "cuDNN workspace of {} MiB requested, above the cap of {} MiB "
           "(raise OA_CUDNN_WORKSPACE_MB)", bytes >> 20, workspace_cap() >> 20);
  if (bytes > t_handles.workspace_bytes) {
    release(t_handles.workspace, t_handles.workspace_bytes);
    t_handles.workspace = nullptr;
    t_handles.workspace_bytes = 0;
    t_handles.workspace = allocate(bytes);
    t_handles.workspace_bytes = bytes;
  }
  return t_handles.workspace;
}

}  // namespace oa::cuda
