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

// Host blocks from 128 KiB on (glibc's default mmap threshold: such blocks come back to the
// kernel on free and fault in again page by page) go through a BlockCache; smaller ones,
// which malloc serves from its own free lists, do not. Under AddressSanitizer nothing is
// cached: a recycled block would hide a use-after-free from it.
constexpr std::size_t kHostCacheFrom = std::size_t{128} << 10;
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kHostCache = false;
#else
constexpr bool kHostCache = true;
#endif

void* host_malloc(std::size_t bytes) {
  const std::size_t rounded = (bytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  return std::aligned_alloc(kCpuAlignment, rounded == 0 ? kCpuAlignment : rounded);
}
void host_free(void* block) { std::free(block); }

BlockCache& host_cache() {
  // Never destroyed: tensors in static objects may be released after main returns.
  static auto* c = new BlockCache(host_malloc, host_free,
                                  {.small_unit = 4096, .large_unit = std::size_t{1} << 20,
                                   .large_from = std::size_t{8} << 20});
  return *c;
}

bool host_cached(std::size_t bytes) { return kHostCache && bytes >= kHostCacheFrom; }

}  // namespace

void* allocate(Device device, std::size_t bytes) {
  if (device == Device::CUDA) {
#ifdef OA_WITH_CUDA
    return cuda::allocate(bytes);
#else
    throw Error("CUDA tensor requested, but this build has no CUDA back end (nvcc was not found)");
#endif
  }
  void* p = host_cached(bytes) ? host_cache().allocate(bytes) : host_malloc(bytes);
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
  if (host_cached(bytes))
    host_cache().release(data);
  else
    host_free(data);
}

MemoryStats host_memory_stats() { return host_cache().stats(); }

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
