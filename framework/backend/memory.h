#pragma once
// Raw device memory: the one place that knows which device owns a pointer.
#include <cstddef>
#include <string>

#include "framework/backend/block_cache.h"
#include "framework/core/dtype.h"

namespace oa::backend {

// Host blocks of 128 KiB and more are cached for reuse (block_cache.h; not under
// AddressSanitizer), CUDA blocks always (cuda/cuda_memory.h). `bytes` in release must be the
// size that was allocated.
void* allocate(Device device, std::size_t bytes);
void release(Device device, void* data, std::size_t bytes);
// The host cache's counters (all zero under AddressSanitizer, which bypasses it).
MemoryStats host_memory_stats();
// Copies `bytes` between any two devices (host<->device copies included).
void copy_bytes(Device dst_device, void* dst, Device src_device, const void* src, std::size_t bytes);

// Waits until every kernel queued on `device` has finished (nothing to wait for on the CPU):
// for timing, since GPU kernels run asynchronously.
void synchronize(Device device);

// Whether CUDA tensors can be made: a build with the CUDA back end and at least one usable
// GPU. When not, *why says why (no CUDA back end in this build, no driver, no device).
bool cuda_available(std::string* why = nullptr);

}  // namespace oa::backend
