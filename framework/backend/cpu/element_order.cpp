// ElementOrder (elementwise.h): which layout an elementwise kernel runs in.
#include "framework/backend/cpu/elementwise.h"

namespace oa::cpu {

ElementOrder::ElementOrder(std::initializer_list<const Tensor*> operands, const Tensor& out) {
  for (const Tensor* t : operands)
    if (t->shape() != out.shape()) return;  // broadcasting: row-major
  if (out.device() != Device::CPU || !out.covers_storage()) return;
  std::shared_ptr<const PackedLayout> first;
  for (const Tensor* t : operands) {
    if (t->dtype() != out.dtype()) return;
    if (!first) first = t->packed_layout();
  }
  if (!first) return;
  // Packed when at least half the operands are in that layout: each operand in another order
  // costs one conversion either way, so the fewer the better (a tie keeps it packed, for the
  // next convolution).
  std::size_t packed = 0;
  for (const Tensor* t : operands) {
    const auto own = t->packed_layout();
    packed += own && own->same_as(*first);
  }
  if (2 * packed >= operands.size()) layout_ = std::move(first);
}

const void* ElementOrder::in_bytes(const Tensor& t) {
  if (!layout_) return t.raw_data();
  const auto own = t.packed_layout();
  if (own && own->same_as(*layout_)) return t.impl().storage->bytes_as_stored();
  Tensor copy = empty_like(t);
  layout_->pack(t.raw_data(), copy.raw_data());
  packed_copies_.push_back(copy);
  return copy.raw_data();
}

void* ElementOrder::out_bytes(Tensor& out) {
  if (!layout_) return out.raw_data();
  return out.impl().storage->write_packed(layout_);
}

}  // namespace oa::cpu
