#pragma once
// Tensor: a shape, a dtype, a device and a shared Storage. Every tensor is contiguous
// (row-major); reshape/flatten return views that share the storage, every other op
// writes a fresh tensor. The autograd fields (requires_grad, grad, grad_fn) live here
// too; framework/autograd explains how they are used.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/error.h"
#include "framework/core/shape.h"
#include "framework/core/storage.h"

namespace oa {

class Node;
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  std::int64_t offset = 0;  // in elements, into storage
  Shape shape;
  DType dtype = DType::Float32;

  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // the node that produced this tensor (null for leaves)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation -------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::CPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::Float32,
                     Device device = Device::CPU);
  static Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::CPU) {
    return full(shape, 1.0, dtype, device);
  }
  // Copies `values` (row-major) into a new CPU tensor of `shape`.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  static Tensor scalar(double value, DType dtype = DType::Float32) { return full({}, value, dtype); }

  // ---- properties -----------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  std::int64_t size(std::int64_t dim) const;
  std::size_t dim() const { return impl().shape.size(); }
  std::int64_t numel() const { return shape_numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype()); }

  // Typed pointer to the first element; checks the dtype (but not the device: kernels of
  // both back ends use it).
  template <class T>
  T* data() const;
  void* raw_data() const;
  // The layout of this tensor's elements when its storage holds them packed (storage.h) and
  // the tensor is that storage whole, with the layout's shape; null otherwise.
  std::shared_ptr<const PackedLayout> packed_layout() const;
  // The elements as stored: in packed_layout() order when that is non-null, else row-major
  // (data(), which converts a storage packed in any other way). For kernels that understand
  // packed layouts; everything else uses data().
  template <class T>
  T* data_as_stored() const;

  // ---- element access (CPU, for tests and bookkeeping) -----------------------------
  double item() const;                                   // the value of a one-element tensor
  double at(std::initializer_list<std::int64_t> index) const;
  void set(std::initializer_list<std::int64_t> index, double value);
  template <class T>
  std::vector<T> to_vector() const;  // the values, row-major, converted to T

  // ---- views and copies -------------------------------------------------------------
  Tensor reshape(const Shape& shape) const;      // a view; one dimension may be -1
  Tensor flatten(std::int64_t start_dim = 1) const;  // keeps dims before start_dim
  Tensor detach() const;                          // same storage, no autograd history
  Tensor clone() const;                           // new storage, no autograd history
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  void copy_(const Tensor& src);  // copies the values of src (same shape) into this tensor
  // Converts this tensor's storage to another dtype in place: every handle of it sees the
  // change (how a whole model moves to float64). Its gradient, if any, is dropped.
  void convert_(DType dtype);
  // Moves this tensor's storage to another device in place, the same way (how a whole model
  // moves to the GPU). Its gradient, if any, is dropped.
  void move_(Device device);
  // Makes this leaf tensor, and every handle sharing it, hold a copy of src (its values,
  // shape and dtype) and drops its gradient: for structural edits like filter pruning.
  void assign_(const Tensor& src);
  void fill_(double value);

  // ---- autograd -----------------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool required = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl().grad); }  // undefined until backward reaches it
  void zero_grad() { impl().grad.reset(); }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  // Backpropagates from this tensor. With no argument the tensor must have one element
  // and its gradient is 1.
  void backward(const Tensor& grad_output = Tensor()) const;

  TensorImpl& impl() const {
    OA_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same_storage(const Tensor& other) const { return impl().storage == other.impl().storage; }
  // Whether this tensor is its storage whole (offset 0, every byte), as a kernel that writes a
  // packed layout into it needs.
  bool covers_storage() const { return impl().offset == 0 && impl().storage->bytes() == nbytes(); }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// A new uninitialised tensor with x's shape, dtype and device.
inline Tensor empty_like(const Tensor& x) { return Tensor::empty(x.shape(), x.dtype(), x.device()); }

// "Tensor[2, 3] float32 cpu"
std::string describe(const Tensor& t);

// Throws naming `op` unless t has the expected dtype / rank / device.
void check_dtype(const Tensor& t, DType expected, const char* op, const char* arg);
void check_rank(const Tensor& t, std::size_t rank, const char* op, const char* arg);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_same_shape(const Tensor& a, const Tensor& b, const char* op);
void check_floating(const Tensor& t, const char* op);
// labels must be int64 [N] with values in [0, C) for logits [N, C].
void check_labels(const Tensor& logits, const Tensor& labels, const char* op);

// Calls f with a null pointer of the tensor's floating element type:
//   dispatch_floating(t.dtype(), "op", [&](auto tag) { using T = decltype(tag); ... });
template <class F>
decltype(auto) dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: break;
  }
  throw Error(fmt::format("{}: expected a floating tensor, got {}", op, dtype_name(dtype)));
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  OA_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape),
           "from_vector: {} values do not fill shape {}", values.size(), shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>());
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

template <class T>
T* Tensor::data() const {
  OA_CHECK(dtype() == dtype_of<T>(), "data<{}>() called on a {} tensor {}", dtype_name(dtype_of<T>()),
           dtype_name(dtype()), shape_str(shape()));
  return static_cast<T*>(raw_data());
}

template <class T>
T* Tensor::data_as_stored() const {
  OA_CHECK(dtype() == dtype_of<T>(), "data_as_stored<{}>() called on a {} tensor {}", dtype_name(dtype_of<T>()),
           dtype_name(dtype()), shape_str(shape()));
  if (!packed_layout()) return data<T>();
  return static_cast<T*>(impl().storage->bytes_as_stored());
}

}  // namespace oa
