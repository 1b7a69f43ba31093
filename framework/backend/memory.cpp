#include "framework/backend/memory.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "framework/core/error.h"
#ifdef OA_WITH_CUDA
#include "framework/backend/cuda/cuda_memory.h"
#endif

namespace oa::backend {

namespace {
constexpr std::size_t kCpuAlignment = 64;  // one cache line; also the AVX-512 vector width
}

void* allocate(Device device, std::size_t bytes) {
  if (device == Device::CUDA) {
#ifdef OA_WITH_CUDA
    return cuda::allocate(bytes);
#else
    throw Error("CUDA tensor requested, but this build has no CUDA back end (nvcc was not found)");
#endif
  }
  const std::size_t rounded = (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  void* p = std::aligned_alloc(kCpuAlignment, rounded == 0 ? kCpuAlignment : rounded);
  if (!p) throw Error(fmt::format("out of host memory allocating {} bytes", bytes));
  return p;
}

void release(Device device, void* data, std::size_t bytes) {
  if (device == Device::CUDA) {
#ifdef OA_WITH_CUDA
    cuda::release(data, bytes);
#endif
    return;
  }
  (void)bytes;
  std::free(data);
}

void copy_bytes(Device dst_device, void* dst, Device src_device, const void* src, std::size_t bytes) {
  if (dst_device == Device::CPU && src_device == Device::CPU) {
    if (bytes) std::memcpy(dst, src, bytes);
    return;
  }
#ifdef OA_WITH_CUDA
  cuda::copy_bytes(dst_device == Device::CUDA, dst, src_device == Device::CUDA, src, bytes);
#else
  throw Error("copy to or from a CUDA tensor, but this build has no CUDA back end");
#endif
}

void synchronize(Device device) {
  if (device == Device::CPU) return;
#ifdef OA_WITH_CUDA
  cuda::synchronize();
#endif
}

bool cuda_available(std::string* why) {
#ifdef OA_WITH_CUDA
  return cuda::device_count(why) > 0;
#else
  if (why) *why = "this build has no CUDA back end (nvcc was not found at configure time)";
  return false;
#endif
}

}  // namespace oa::backend
