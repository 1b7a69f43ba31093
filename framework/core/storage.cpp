#include "framework/core/storage.h"

#include "framework/backend/memory.h"

namespace oa {

std::shared_ptr<Storage> Storage::allocate(std::size_t bytes, Device device) {
  void* data = backend::allocate(device, bytes);
  return std::shared_ptr<Storage>(new Storage(data, bytes, device));
}

Storage::~Storage() { backend::release(device_, data_, bytes_); }

}  // namespace oa
