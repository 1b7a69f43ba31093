#pragma once
// Every CUDA runtime, cuBLAS and cuDNN call goes through one of these checks, which name the
// call, the file and the line and throw oa::Error. Kernel launches are followed by
// OA_CUDA_LAUNCH_CHECK() (launch errors surface there; errors inside a kernel surface at the
// next synchronising call, which is checked too).
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "framework/core/error.h"

#define OA_GPU_CHECK_(library, status_ok, describe, call)                                              \
  do {                                                                                                 \
    const auto oa_status_ = (call);                                                                    \
    if (oa_status_ != (status_ok))                                                                     \
      throw ::oa::Error(fmt::format("{} error in {} at {}:{}: {} ({})", library, #call, __FILE__, __LINE__, \
                                    describe(oa_status_), static_cast<int>(oa_status_)));              \
  } while (0)

#define OA_CUDA_CHECK(call) OA_GPU_CHECK_("CUDA", cudaSuccess, cudaGetErrorString, call)
#define OA_CUBLAS_CHECK(call) OA_GPU_CHECK_("cuBLAS", CUBLAS_STATUS_SUCCESS, cublasGetStatusString, call)
#define OA_CUDNN_CHECK(call) OA_GPU_CHECK_("cuDNN", CUDNN_STATUS_SUCCESS, cudnnGetErrorString, call)
#define OA_CUDA_LAUNCH_CHECK() OA_CUDA_CHECK(cudaGetLastError())
