#pragma once
// A caching allocator over a raw one (cudaMalloc, or aligned_alloc for large host blocks): a
// released block goes to a free list keyed by its rounded size, and the next request it fits
// is served from there, without calling the raw allocator again.
//
// Why: on the GPU, cudaMalloc and cudaFree synchronise the device. On the host, a fresh
// multi-megabyte block costs a page fault per 4 KiB page the first time it is written (glibc
// hands large blocks back to the kernel on free); ResNet-20 at batch 128 makes tens of such
// activations per step, and an attack step spent a quarter of its time in those faults.
//
// Bounded: if caching a released block would make the free lists hold more than twice the
// largest amount tensors ever held at once, the lists are emptied first (the sizes in use
// have changed: the old blocks would only sit there). Thread-safe (one mutex).
#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>

namespace oa::backend {

struct MemoryStats {
  std::size_t in_use = 0;        // bytes held by live tensors (rounded sizes)
  std::size_t cached = 0;        // bytes in the free lists, ready for reuse
  std::size_t peak_in_use = 0;   // the largest in_use so far
  long raw_allocations = 0;      // calls to the raw allocator so far (the cache's misses)
};

class BlockCache {
 public:
  using RawAllocate = void* (*)(std::size_t bytes);  // nullptr when out of memory
  using RawFree = void (*)(void* block);
  // Sizes are rounded up to `small_unit`, or to `large_unit` from `large_from` bytes on, so
  // that blocks of nearby sizes share a free list.
  struct Rounding {
    std::size_t small_unit, large_unit, large_from;
  };

  BlockCache(RawAllocate raw_allocate, RawFree raw_free, Rounding rounding)
      : raw_allocate_(raw_allocate), raw_free_(raw_free), rounding_(rounding) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A block of at least `bytes` (> 0): the smallest cached one that fits unless it would waste
  // more than half of itself, else a new one; when the raw allocator fails, the cache is
  // emptied and it is asked once more. nullptr if that fails too.
  void* allocate(std::size_t bytes);
  // Takes back a block from allocate. false, and nothing done, for a pointer it never gave.
  bool release(void* block);
  MemoryStats stats();
  // Returns every cached block to the raw allocator.
  void empty();

 private:
  std::size_t rounded(std::size_t bytes) const;
  void empty_locked();

  RawAllocate raw_allocate_;
  RawFree raw_free_;
  Rounding rounding_;
  std::mutex mutex_;
  std::multimap<std::size_t, void*> free_blocks_;        // size -> block
  std::unordered_map<void*, std::size_t> block_sizes_;  // every block it holds -> its size
  MemoryStats stats_;
};

}  // namespace oa::backend
