#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace oa {

using Shape = std::vector<std::int64_t>;

std::int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[128, 3, 32, 32]"

// Row-major (C-order) strides in elements: the last dimension is contiguous.
std::vector<std::int64_t> contiguous_strides(const Shape& shape);

// Resolve a possibly negative dimension index against `rank`; throws when out of range.
int normalize_dim(std::int64_t dim, std::size_t rank, const char* op);

// The shape two operands broadcast to (NumPy rules); throws naming both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace oa
