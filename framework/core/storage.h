#pragma once
#include <cstddef>
#include <memory>

#include "framework/core/dtype.h"

namespace oa {

// A block of memory on one device. Tensors share a Storage (views for reshape/flatten,
// detached copies for the autograd tape); it is freed when the last tensor lets go.
class Storage {
 public:
  static std::shared_ptr<Storage> allocate(std::size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  Storage(void* data, std::size_t bytes, Device device) : data_(data), bytes_(bytes), device_(device) {}
  void* data_;
  std::size_t bytes_;
  Device device_;
};

}  // namespace oa
