#include "framework/backend/cuda/cuda_check.h"
#include "framework/backend/cuda/cuda_memory.h"

namespace oa::cuda {

void* allocate(std::size_t bytes) {
  void* p = nullptr;
  if (bytes) OA_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void release(void* data, std::size_t) {
  if (data) cudaFree(data);  // never throws from a destructor
}

void copy_bytes(bool dst_on_device, void* dst, bool src_on_device, const void* src, std::size_t bytes) {
  if (!bytes) return;
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                            : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  OA_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

int device_count(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why) *why = cudaGetErrorString(status);
    return 0;
  }
  if (count == 0 && why) *why = "no CUDA device found";
  return count;
}

}  // namespace oa::cuda
