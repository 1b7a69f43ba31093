// The caching allocator (framework/backend/block_cache.h) over a fake raw allocator that
// counts its calls and can be told to fail; then the host cache as tensors use it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <set>
#include <vector>

#include "framework/backend/block_cache.h"
#include "framework/backend/memory.h"
#include "framework/core/tensor.h"

using oa::backend::BlockCache;

namespace {

struct FakeRaw {
  static inline std::set<void*> live;
  static inline long mallocs = 0, frees = 0;
  static inline bool fail_while_blocks_live = false;  // out of memory until the cache frees everything

  static void* allocate(std::size_t bytes) {
    if (fail_while_blocks_live && !live.empty()) return nullptr;
    ++mallocs;
    void* p = std::malloc(bytes);
    live.insert(p);
    return p;
  }
  static void free(void* p) {
    ++frees;
    live.erase(p);
    std::free(p);
  }
  static void reset() {
    mallocs = frees = 0;
    fail_while_blocks_live = false;
  }
};

constexpr BlockCache::Rounding kRounding{.small_unit = 256, .large_unit = 4096, .large_from = 4096};

}  // namespace

TEST_CASE("block cache: a released block serves the next request it fits, without the raw allocator") {
  FakeRaw::reset();
  BlockCache cache(FakeRaw::allocate, FakeRaw::free, kRounding);
  void* a = cache.allocate(1000);  // rounded to 1024
  CHECK(cache.stats().in_use == 1024);
  CHECK(cache.release(a));
  CHECK(cache.stats().in_use == 0);
  CHECK(cache.stats().cached == 1024);
  CHECK(cache.allocate(900) == a);  // rounds to 1024 too
  CHECK(FakeRaw::mallocs == 1);
  CHECK(cache.stats().raw_allocations == 1);
  CHECK(cache.stats().cached == 0);
  cache.release(a);
  // A request of half the cached block or less does not take it (it would waste more than half).
  void* small = cache.allocate(256);
  CHECK(small != a);
  CHECK(FakeRaw::mallocs == 2);
  // From large_from on, sizes round to large_unit: 5000 and 8000 share an 8192-byte block.
  void* big = cache.allocate(5000);
  cache.release(big);
  CHECK(cache.allocate(8000) == big);
  cache.release(big);
  cache.release(small);
  cache.empty();
  CHECK(cache.stats().cached == 0);
  CHECK(FakeRaw::live.empty());
}

TEST_CASE("block cache: a pointer it never gave is refused and left alone") {
  FakeRaw::reset();
  BlockCache cache(FakeRaw::allocate, FakeRaw::free, kRounding);
  int stranger = 0;
  CHECK_FALSE(cache.release(&stranger));
  CHECK(cache.stats().cached == 0);
  CHECK(FakeRaw::frees == 0);
}

TEST_CASE("block cache: releasing past twice the peak in use empties the old blocks first") {
  FakeRaw::reset();
  BlockCache cache(FakeRaw::allocate, FakeRaw::free, kRounding);
  // Three phases of sizes that cannot reuse each other's blocks (each more than twice smaller).
  const auto phase = [&](std::size_t bytes, int count) {
    std::vector<void*> live;
    for (int i = 0; i < count; ++i) live.push_back(cache.allocate(bytes));
    for (void* p : live) cache.release(p);
  };
  phase(4096, 2);  // peak 8192; 8192 cached
  phase(1024, 7);  // 7168 in use at most; 15360 cached <= 2 * 8192
  CHECK(cache.stats().peak_in_use == 8192);
  CHECK(cache.stats().cached == 15360);
  CHECK(FakeRaw::frees == 0);
  // 256-byte blocks: the fifth release would hold 16640 > 16384, so the 13 cached blocks
  // (2 of 4096, 7 of 1024, 4 of 256) go back first; the fifth to seventh stay.
  phase(256, 7);
  CHECK(FakeRaw::frees == 13);
  CHECK(cache.stats().cached == 3 * 256);
  CHECK(FakeRaw::live.size() == 3);
  cache.empty();
  CHECK(FakeRaw::live.empty());
}

TEST_CASE("block cache: when the raw allocator fails, the cache is emptied and it is asked again") {
  FakeRaw::reset();
  BlockCache cache(FakeRaw::allocate, FakeRaw::free, kRounding);
  void* a = cache.allocate(1024);
  cache.release(a);
  FakeRaw::fail_while_blocks_live = true;  // fails while the cached block exists
  void* b = cache.allocate(4096);          // no cached block fits; empty, then retry succeeds
  CHECK(b != nullptr);
  CHECK(cache.stats().cached == 0);
  CHECK(FakeRaw::frees == 1);
  // With a block held by a "tensor", the retry fails too: nullptr, counters unchanged.
  CHECK(cache.allocate(8192) == nullptr);
  CHECK(cache.stats().in_use == 4096);
  FakeRaw::fail_while_blocks_live = false;
  cache.release(b);
  cache.empty();
  CHECK(FakeRaw::live.empty());
}

TEST_CASE("host memory: a large tensor's block is reused by the next tensor of its size") {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer builds bypass the host cache (a recycled block would hide a use-after-free).
  const oa::Tensor t = oa::Tensor::zeros({1 << 18});
  CHECK(oa::backend::host_memory_stats().raw_allocations == 0);
#else
  const void* first = nullptr;
  {
    const oa::Tensor t = oa::Tensor::zeros({1 << 18});  // 1 MiB
    first = t.data<float>();
  }
  const long raw = oa::backend::host_memory_stats().raw_allocations;
  const oa::Tensor again = oa::Tensor::zeros({1 << 18});
  CHECK(static_cast<const void*>(again.data<float>()) == first);
  CHECK(oa::backend::host_memory_stats().raw_allocations == raw);
  // Small tensors are left to malloc.
  const std::size_t in_use = oa::backend::host_memory_stats().in_use;
  const oa::Tensor small = oa::Tensor::zeros({16});
  CHECK(oa::backend::host_memory_stats().in_use == in_use);
#endif
}
