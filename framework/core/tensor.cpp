#include "framework/core/tensor.h"

#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/backend/memory.h"

namespace oa {

std::string describe(const Tensor& t) {
  if (!t.defined()) return "Tensor(undefined)";
  return fmt::format("Tensor{} {} {}", shape_str(t.shape()), dtype_name(t.dtype()), device_name(t.device()));
}

void check_dtype(const Tensor& t, DType expected, const char* op, const char* arg) {
  OA_CHECK(t.dtype() == expected, "{}: {} must be {}, got {}", op, arg, dtype_name(expected), describe(t));
}
void check_rank(const Tensor& t, std::size_t rank, const char* op, const char* arg) {
  OA_CHECK(t.dim() == rank, "{}: {} must have {} dimensions, got {}", op, arg, rank, describe(t));
}
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  OA_CHECK(a.dtype() == b.dtype(), "{}: dtypes differ: {} and {}", op, describe(a), describe(b));
}
void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  OA_CHECK(a.device() == b.device(), "{}: devices differ: {} and {}", op, describe(a), describe(b));
}
void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  OA_CHECK(a.shape() == b.shape(), "{}: shapes differ: {} and {}", op, shape_str(a.shape()), shape_str(b.shape()));
}
void check_floating(const Tensor& t, const char* op) {
  OA_CHECK(t.dtype() != DType::Int64, "{}: expected a floating tensor, got {}", op, describe(t));
}

void check_labels(const Tensor& logits, const Tensor& labels, const char* op) {
  check_rank(logits, 2, op, "logits");
  check_dtype(labels, DType::Int64, op, "labels");
  OA_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), "{}: labels {} do not match logits {}", op,
           shape_str(labels.shape()), shape_str(logits.shape()));
  // The range is checked where it is free: on the CPU, in place. On the GPU it would cost a
  // copy to the host and a wait on every call (several per attack iteration); there the
  // kernels write NaN for a label outside the range instead of reading out of bounds.
  if (labels.device() != Device::CPU) return;
  const std::int64_t* values = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < labels.numel(); ++i)
    OA_CHECK(values[i] >= 0 && values[i] < logits.size(1), "{}: label {} of sample {} is outside [0, {})", op,
             values[i], i, logits.size(1));
}

// ---------------------------------------------------------------- creation

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (auto d : shape) OA_CHECK(d >= 0, "empty: negative dimension in shape {}", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::allocate(static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend::fill(t, value);
  return t;
}

// ---------------------------------------------------------------- properties

std::int64_t Tensor::size(std::int64_t dim) const { return shape()[normalize_dim(dim, this->dim(), "size")]; }

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * static_cast<std::int64_t>(dtype_size(dtype()));
}

std::shared_ptr<const PackedLayout> Tensor::packed_layout() const {
  auto layout = impl().storage->packed_layout();
  if (layout && impl().offset == 0 && layout->shape() == shape()) return layout;
  return nullptr;
}

namespace {
std::int64_t flat_index(const Tensor& t, std::initializer_list<std::int64_t> index) {
  OA_CHECK(index.size() == t.dim(), "at: {} indices for {}", index.size(), describe(t));
  OA_CHECK(t.device() == Device::CPU, "at: element access needs a CPU tensor, got {}", describe(t));
  std::int64_t flat = 0;
  std::size_t d = 0;
  for (auto i : index) {
    OA_CHECK(i >= 0 && i < t.shape()[d], "at: index {} out of range for dimension {} of {}", i, d, describe(t));
    flat = flat * t.shape()[d] + i;
    ++d;
  }
  return flat;
}
}  // namespace

double Tensor::item() const {
  OA_CHECK(numel() == 1, "item: tensor has {} elements, expected 1: {}", numel(), describe(*this));
  return to(Device::CPU).to_vector<double>()[0];
}

double Tensor::at(std::initializer_list<std::int64_t> index) const {
  const std::int64_t i = flat_index(*this, index);
  switch (dtype()) {
    case DType::Float32: return data<float>()[i];
    case DType::Float64: return data<double>()[i];
    case DType::Int64: return static_cast<double>(data<std::int64_t>()[i]);
  }
  return 0;
}

void Tensor::set(std::initializer_list<std::int64_t> index, double value) {
  const std::int64_t i = flat_index(*this, index);
  switch (dtype()) {
    case DType::Float32: data<float>()[i] = static_cast<float>(value); break;
    case DType::Float64: data<double>()[i] = value; break;
    case DType::Int64: data<std::int64_t>()[i] = static_cast<std::int64_t>(value); break;
  }
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  const Tensor host = to(Device::CPU).to(dtype_of<T>());
  return std::vector<T>(host.data<T>(), host.data<T>() + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

// ---------------------------------------------------------------- views and copies

Tensor Tensor::reshape(const Shape& new_shape) const {
  Shape shape = new_shape;
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      OA_CHECK(inferred < 0, "reshape: more than one -1 in {}", shape_str(new_shape));
      inferred = static_cast<int>(i);
    } else {
      OA_CHECK(shape[i] >= 0, "reshape: negative dimension in {}", shape_str(new_shape));
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    OA_CHECK(known > 0 && numel() % known == 0, "reshape: cannot infer -1 in {} for {} elements of {}",
             shape_str(new_shape), numel(), describe(*this));
    shape[inferred] = numel() / known;
  }
  OA_CHECK(shape_numel(shape) == numel(), "reshape: {} has {} elements, which do not fit shape {}",
           describe(*this), numel(), shape_str(new_shape));
  auto view = std::make_shared<TensorImpl>();
  view->storage = impl().storage;
  view->offset = impl().offset;
  view->shape = shape;
  view->dtype = dtype();
  Tensor out(std::move(view));
  // The view carries autograd history: its gradient is the incoming one reshaped back.
  const Shape original = this->shape();
  return record(out, {this}, "reshape", [original](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.reshape(original)};
  });
}

Tensor Tensor::flatten(std::int64_t start_dim) const {
  const int start = normalize_dim(start_dim, dim(), "flatten");
  Shape shape(this->shape().begin(), this->shape().begin() + start);
  shape.push_back(-1);
  if (numel() == 0) shape.back() = 0;
  return reshape(shape);
}

Tensor Tensor::detach() const {
  auto view = std::make_shared<TensorImpl>();
  view->storage = impl().storage;
  view->offset = impl().offset;
  view->shape = shape();
  view->dtype = dtype();
  return Tensor(std::move(view));
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  backend::copy_bytes(device(), out.raw_data(), device(), raw_data(), nbytes());
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target, device());
  backend::cast(*this, out);
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), dtype(), target);
  backend::copy_bytes(target, out.raw_data(), device(), raw_data(), nbytes());
  return out;
}

void Tensor::copy_(const Tensor& src) {
  check_same_shape(*this, src, "copy_");
  const Tensor converted = src.to(dtype());
  backend::copy_bytes(device(), raw_data(), converted.device(), converted.raw_data(), nbytes());
}

void Tensor::convert_(DType target) {
  if (target == dtype()) return;
  OA_CHECK(is_leaf(), "convert_: only leaf tensors can change dtype in place ({})", describe(*this));
  const Tensor converted = to(target);
  impl().storage = converted.impl().storage;
  impl().offset = 0;
  impl().dtype = target;
  impl().grad.reset();
}

void Tensor::move_(Device target) {
  if (target == device()) return;
  OA_CHECK(is_leaf(), "move_: only leaf tensors can change device in place ({})", describe(*this));
  const Tensor moved = to(target);
  impl().storage = moved.impl().storage;
  impl().offset = 0;
  impl().grad.reset();
}

void Tensor::assign_(const Tensor& src) {
  OA_CHECK(is_leaf(), "assign_: only leaf tensors can be replaced in place ({})", describe(*this));
  const Tensor copy = src.clone();
  impl().storage = copy.impl().storage;
  impl().offset = 0;
  impl().shape = copy.shape();
  impl().dtype = copy.dtype();
  impl().grad.reset();
}

void Tensor::fill_(double value) { backend::fill(*this, value); }

// ---------------------------------------------------------------- autograd

Tensor& Tensor::set_requires_grad(bool required) {
  OA_CHECK(!required || dtype() != DType::Int64, "set_requires_grad: an int64 tensor cannot require grad");
  OA_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad ({})", describe(*this));
  impl().requires_grad = required;
  return *this;
}

void Tensor::backward(const Tensor& grad_output) const {
  if (grad_output.defined()) return run_backward(*this, grad_output);
  OA_CHECK(numel() == 1, "backward: an implicit gradient needs a one-element output, got {}; pass the gradient",
           describe(*this));
  run_backward(*this, Tensor::full(shape(), 1.0, dtype(), device()));
}

}  // namespace oa
