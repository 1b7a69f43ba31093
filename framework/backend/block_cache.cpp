#include "framework/backend/block_cache.h"

#include <algorithm>

namespace oa::backend {

std::size_t BlockCache::rounded(std::size_t bytes) const {
  const std::size_t unit = bytes >= rounding_.large_from ? rounding_.large_unit : rounding_.small_unit;
  return (bytes + unit - 1) / unit * unit;
}

void* BlockCache::allocate(std::size_t bytes) {
  const std::size_t size = rounded(bytes);
  std::lock_guard lock(mutex_);
  void* block = nullptr;
  if (auto it = free_blocks_.lower_bound(size); it != free_blocks_.end() && it->first <= 2 * size) {
    block = it->second;
    stats_.cached -= it->first;
    stats_.in_use += it->first;
    free_blocks_.erase(it);
  } else {
    block = raw_allocate_(size);
    if (!block) {
      empty_locked();
      block = raw_allocate_(size);
      if (!block) return nullptr;
    }
    ++stats_.raw_allocations;
    block_sizes_[block] = size;
    stats_.in_use += size;
  }
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  return block;
}

bool BlockCache::release(void* block) {
  std::lock_guard lock(mutex_);
  const auto it = block_sizes_.find(block);
  if (it == block_sizes_.end()) return false;
  const std::size_t size = it->second;
  stats_.in_use -= size;
  if (stats_.cached + size > 2 * stats_.peak_in_use) empty_locked();
  stats_.cached += size;
  free_blocks_.emplace(size, block);
  return true;
}

MemoryStats BlockCache::stats() {
  std::lock_guard lock(mutex_);
  return stats_;
}

void BlockCache::empty() {
  std::lock_guard lock(mutex_);
  empty_locked();
}

void BlockCache::empty_locked() {
  for (const auto& [size, block] : free_blocks_) {
    raw_free_(block);
    block_sizes_.erase(block);
    stats_.cached -= size;
  }
  free_blocks_.clear();
}

}  // namespace oa::backend
