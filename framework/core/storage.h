#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>

#include "framework/core/dtype.h"
#include "framework/core/shape.h"

namespace oa {

// An order of a tensor's elements other than row-major: the blocked layouts (e.g. oneDNN's
// nChw16c) that a vendor kernel computes in fastest. Kernels that understand a layout read and
// write it as it is (a convolution, an elementwise op whose operands share it); every other
// access gets row-major data, converted on first use (Storage::data).
class PackedLayout {
 public:
  virtual ~PackedLayout() = default;
  // The shape of the tensor whose elements it orders (the packed bytes hold exactly as many).
  virtual const Shape& shape() const = 0;
  virtual bool same_as(const PackedLayout& other) const = 0;
  // Copies all the elements from one order to the other; the buffers do not overlap.
  virtual void unpack(const void* packed, void* row_major) const = 0;
  virtual void pack(const void* row_major, void* packed) const = 0;
};

// A block of memory on one device. Tensors share a Storage (views for reshape/flatten,
// detached copies for the autograd tape); it is freed when the last tensor lets go.
//
// Its bytes are row-major unless a kernel wrote them in a PackedLayout (write_packed). Then
// the first data() call converts them to row-major, once and for good (thread-safe); so code
// that knows nothing of layouts never sees one.
class Storage {
 public:
  static std::shared_ptr<Storage> allocate(std::size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // The row-major bytes (converted first if they are packed).
  void* data() const {
    if (packed_flag_.load(std::memory_order_acquire)) unpack();
    return data_;
  }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

  // The layout the bytes are in now (null: row-major) and the bytes as they are.
  std::shared_ptr<const PackedLayout> packed_layout() const;
  void* bytes_as_stored() const { return data_; }
  // Declares that the caller is about to overwrite every byte in `layout` order, and returns
  // where to write them. For kernels writing a fresh output: what the bytes held is lost.
  void* write_packed(std::shared_ptr<const PackedLayout> layout);

 private:
  Storage(void* data, std::size_t bytes, Device device) : data_(data), bytes_(bytes), device_(device) {}
  void unpack() const;

  mutable void* data_;
  std::size_t bytes_;
  Device device_;
  mutable std::mutex packed_mutex_;
  mutable std::shared_ptr<const PackedLayout> packed_;  // under packed_mutex_
  mutable std::atomic<bool> packed_flag_{false};        // packed_ != null, read without the lock
};

}  // namespace oa
