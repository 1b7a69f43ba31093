#pragma once
// Every CUDA runtime call goes through OA_CUDA_CHECK, which names the call, the file and the
// line and throws oa::Error (cuBLAS and cuDNN get their twins with the kernels that use them).
#include <cuda_runtime.h>

#include "framework/core/error.h"

#define OA_CUDA_CHECK(call)                                                                      \
  do {                                                                                           \
    const cudaError_t oa_status_ = (call);                                                       \
    if (oa_status_ != cudaSuccess)                                                               \
      throw ::oa::Error(fmt::format("CUDA error in {} at {}:{}: {} ({})", #call, __FILE__, __LINE__, \
                                    cudaGetErrorString(oa_status_), static_cast<int>(oa_status_))); \
  } while (0)
