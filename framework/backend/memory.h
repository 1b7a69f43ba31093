#pragma once
// Raw device memory: the one place that knows which device owns a pointer.
#include <cstddef>

#include "framework/core/dtype.h"

namespace oa::backend {

void* allocate(Device device, std::size_t bytes);
void release(Device device, void* data, std::size_t bytes);
// Copies `bytes` between any two devices (host<->device copies included).
void copy_bytes(Device dst_device, void* dst, Device src_device, const void* src, std::size_t bytes);

}  // namespace oa::backend
