// ElementOrder (elementwise.h): which layout an elementwise kernel runs in.
#include "framework/backend/cpu/elementwise.h"

#include <algorithm>

namespace oa::cpu {

ElementOrder::ElementOrder(std::initializer_list<const Tensor*> operands, const Tensor& out) {
  for (const Tensor* t : operands)
    if (t->shape() != out.shape()) return;  // broadcasting: row-major
  if (out.device() != Device::CPU || !out.covers_storage()) return;
  std::vector<std::shared_ptr<const PackedLayout>> layouts;
  for (const Tensor* t : operands) {
    if (t->dtype() != out.dtype()) return;
    layouts.push_back(t->packed_layout());
  }
  const auto first = std::find_if(layouts.begin(), layouts.end(), [](const auto& l) { return l != nullptr; });
  if (first == layouts.end()) return;
  // Packed when at least half the operands are in that layout: each operand in another order
  // costs one conversion either way, so the fewer the better (a tie keeps it packed, for the
  // next convolution).
  const auto packed = std::count_if(layouts.begin(), layouts.end(),
                                    [&](const auto& l) { return l && l->same_as(**first); });
  if (2 * static_cast<std::size_t>(packed) >= layouts.size()) layout_ = *first;
}

const void* ElementOrder::packed_copy(const Tensor& t) {
  Tensor copy = empty_like(t);
  layout_->pack(t.raw_data(), copy.raw_data());
  packed_copies_.push_back(copy);
  return copy.raw_data();
}

void* ElementOrder::out_bytes(Tensor& target) {
  if (!layout_) return target.raw_data();
  return target.impl().storage->write_packed(layout_);
}

}  // namespace oa::cpu
