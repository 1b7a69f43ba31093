#include "framework/core/storage.h"

#include "framework/backend/memory.h"
#include "framework/core/error.h"

namespace oa {

std::shared_ptr<Storage> Storage::allocate(std::size_t bytes, Device device) {
  void* data = backend::allocate(device, bytes);
  return std::shared_ptr<Storage>(new Storage(data, bytes, device));
}

Storage::~Storage() { backend::release(device_, data_, bytes_); }

std::shared_ptr<const PackedLayout> Storage::packed_layout() const {
  if (!packed_flag_.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard lock(packed_mutex_);
  return packed_;
}

void* Storage::write_packed(std::shared_ptr<const PackedLayout> layout) {
  OA_CHECK(device_ == Device::CPU, "write_packed: packed layouts are for host memory");
  std::lock_guard lock(packed_mutex_);
  packed_ = std::move(layout);
  packed_flag_.store(packed_ != nullptr, std::memory_order_release);
  return data_;
}

// Converts into a fresh block and swaps it in: cheaper than converting through a temporary and
// copying back. (No pointer to the packed bytes outlives the kernel that asked for them.)
void Storage::unpack() const {
  std::lock_guard lock(packed_mutex_);
  if (!packed_) return;  // another thread got here first
  void* row_major = backend::allocate(device_, bytes_);
  packed_->unpack(data_, row_major);
  backend::release(device_, data_, bytes_);
  data_ = row_major;
  packed_.reset();
  packed_flag_.store(false, std::memory_order_release);
}

}  // namespace oa
