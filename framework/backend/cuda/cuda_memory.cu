#include "framework/backend/cuda/cuda_memory.h"

#include <glob.h>

#include <map>
#include <mutex>
#include <unordered_map>

#include "framework/backend/cuda/context.h"

namespace oa::cuda {

namespace {

// Sizes are rounded up to 512 bytes (small blocks) or 2 MiB (large ones), so that blocks of
// nearby sizes share a free list.
constexpr std::size_t kSmallRound = 512;
constexpr std::size_t kLargeRound = std::size_t{2} << 20;
constexpr std::size_t kLargeFrom = std::size_t{1} << 20;

std::size_t rounded(std::size_t bytes) {
  const std::size_t unit = bytes >= kLargeFrom ? kLargeRound : kSmallRound;
  return (bytes + unit - 1) / unit * unit;
}

struct Cache {
  std::mutex mutex;
  std::multimap<std::size_t, void*> free_blocks;        // size -> block
  std::unordered_map<void*, std::size_t> block_sizes;  // every live block -> its size
  MemoryStats stats;

  void free_cached_locked() {
    for (auto& [size, block] : free_blocks) {
      cudaFree(block);
      block_sizes.erase(block);
      stats.cached -= size;
    }
    free_blocks.clear();
  }
};

Cache& cache() {
  // Never destroyed: tensors in static objects may be released after main returns.
  static Cache* c = new Cache;
  return *c;
}

}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t size = rounded(bytes);
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  // The smallest cached block that fits, unless it would waste more than half of itself.
  if (auto it = c.free_blocks.lower_bound(size); it != c.free_blocks.end() && it->first <= 2 * size) {
    void* block = it->second;
    c.stats.cached -= it->first;
    c.stats.in_use += it->first;
    c.free_blocks.erase(it);
    c.stats.peak_in_use = std::max(c.stats.peak_in_use, c.stats.in_use);
    return block;
  }
  void* block = nullptr;
  if (cudaMalloc(&block, size) != cudaSuccess) {
    cudaGetLastError();  // clear the out-of-memory error, then retry with the cache emptied
    c.free_cached_locked();
    const cudaError_t status = cudaMalloc(&block, size);
    if (status != cudaSuccess)
      throw Error(fmt::format("CUDA: cudaMalloc of {} bytes failed with the cache emptied ({} MiB held by "
                              "tensors): {}", bytes, c.stats.in_use >> 20, cudaGetErrorString(status)));
  }
  ++c.stats.device_allocations;
  c.block_sizes[block] = size;
  c.stats.in_use += size;
  c.stats.peak_in_use = std::max(c.stats.peak_in_use, c.stats.in_use);
  return block;
}

void release(void* data, std::size_t) {
  if (!data) return;
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  const auto it = c.block_sizes.find(data);
  if (it == c.block_sizes.end()) return;  // not ours: never throw from a destructor
  c.stats.in_use -= it->second;
  c.stats.cached += it->second;
  c.free_blocks.emplace(it->second, data);
}

MemoryStats memory_stats() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.stats;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.free_cached_locked();
}

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
