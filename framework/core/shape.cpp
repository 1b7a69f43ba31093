#include "framework/core/shape.h"

#include "framework/core/error.h"

namespace oa {

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

std::vector<std::int64_t> contiguous_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size());
  std::int64_t s = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

int normalize_dim(std::int64_t dim, std::size_t rank, const char* op) {
  const auto r = static_cast<std::int64_t>(rank);
  OA_CHECK(dim >= -r && dim < r, "{}: dimension {} is out of range for a tensor of rank {}", op, dim,
           rank);
  return static_cast<int>(dim < 0 ? dim + r : dim);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    // Align from the right: missing leading dimensions count as 1.
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    OA_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} do not broadcast (dimension {}: {} vs {})",
             op, shape_str(a), shape_str(b), i, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace oa
