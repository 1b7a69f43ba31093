#include "framework/backend/cuda/cuda_memory.h"

#include <glob.h>

#include "framework/backend/block_cache.h"
#include "framework/backend/cuda/context.h"

namespace oa::cuda {

namespace {

// Why the last cudaMalloc failed, for the error message (the cache only sees nullptr).
thread_local cudaError_t t_last_malloc_error = cudaSuccess;

void* device_malloc(std::size_t bytes) {
  void* block = nullptr;
  t_last_malloc_error = cudaMalloc(&block, bytes);
  if (t_last_malloc_error == cudaSuccess) return block;
  cudaGetLastError();  // clear the error: the cache empties itself and retries
  return nullptr;
}
void device_free(void* block) { cudaFree(block); }

backend::BlockCache& cache() {
  // Never destroyed: tensors in static objects may be released after main returns.
  // Sizes rounded up to 512 bytes, or to 2 MiB from 1 MiB on (nvcc compiles C++17 here: no
  // designated initialisers).
  static auto* c = new backend::BlockCache(device_malloc, device_free,
                                           {512, std::size_t{2} << 20, std::size_t{1} << 20});
  return *c;
}

}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  void* block = cache().allocate(bytes);
  if (!block)
    throw Error(fmt::format("CUDA: cudaMalloc of {} bytes failed with the cache emptied ({} MiB held by tensors): {}",
                            bytes, cache().stats().in_use >> 20, cudaGetErrorString(t_last_malloc_error)));
  return block;
}

void release(void* data, std::size_t) {
  if (data) cache().release(data);  // a pointer it never gave is ignored: never throw from a destructor
}

MemoryStats memory_stats() { return cache().stats(); }

void empty_cache() { cache().empty(); }

void copy_bytes(bool dst_on_device, void* dst, bool src_on_device, const void* src, std::size_t bytes) {
  if (!bytes) return;
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                            : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  OA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream()));
  // A host source may be freed as soon as we return, and a host destination is read at
  // once: wait for every copy that touches host memory.
  if (!dst_on_device || !src_on_device) OA_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void synchronize() { OA_CUDA_CHECK(cudaStreamSynchronize(stream())); }

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

bool no_gpu_present() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaErrorNoDevice || (status == cudaSuccess && count == 0)) return true;
  glob_t device_files{};
  const bool any_device_file = glob("/dev/nvidia*", 0, nullptr, &device_files) == 0;
  globfree(&device_files);
  return !any_device_file;
}

}  // namespace oa::cuda
