#pragma once
// Device memory of the CUDA back end. Plain C++ interface: callers need no CUDA headers.
#include <cstddef>
#include <string>

namespace oa::cuda {

void* allocate(std::size_t bytes);
void release(void* data, std::size_t bytes);
void copy_bytes(bool dst_on_device, void* dst, bool src_on_device, const void* src, std::size_t bytes);

// Number of usable GPUs; 0 when there is none, with the runtime's reason in *why
// (no driver, no device, ...): callers treat any failure as "no GPU".
int device_count(std::string* why = nullptr);

}  // namespace oa::cuda
