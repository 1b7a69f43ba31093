#pragma once
// Device memory of the CUDA back end. Plain C++ interface: callers need no CUDA headers.
//
// A caching allocator (backend/block_cache.h): a released block is kept for the next request
// it fits, without cudaMalloc/cudaFree (each of which synchronises the device). All work runs
// on one stream (context.h), so a block can be handed out again as soon as it is released:
// later kernels queue behind earlier ones. When cudaMalloc fails, the cache is emptied and the
// allocation tried once more.
#include <cstddef>
#include <string>

#include "framework/backend/block_cache.h"

namespace oa::cuda {

void* allocate(std::size_t bytes);
void release(void* data, std::size_t bytes);
// Copies between host and device (or device and device) on the back end's stream. Copies to
// the host wait for the stream, so the host sees every earlier kernel's result.
void copy_bytes(bool dst_on_device, void* dst, bool src_on_device, const void* src, std::size_t bytes);

using backend::MemoryStats;  // raw_allocations: cudaMalloc calls so far (the cache's misses)
MemoryStats memory_stats();
// Returns every cached block to the driver.
void empty_cache();

// Waits until every queued kernel and copy has finished (and surfaces their errors).
void synchronize();

// Number of usable GPUs; 0 when there is none, with the runtime's reason in *why
// (no driver, no device, ...): callers treat any failure as "no GPU".
int device_count(std::string* why = nullptr);

// Whether this machine has no GPU at all, as opposed to one that CUDA cannot use (a driver too
// old for the toolkit, a broken installation): true when the runtime says cudaErrorNoDevice (or
// counts 0 devices), or when no /dev/nvidia* device file exists (without a loaded driver there is
// none, and the runtime then reports an insufficient driver as well). The CUDA tests skip only
// then; an unusable GPU is a failure.
bool no_gpu_present();

}  // namespace oa::cuda
