#pragma once
// A matrix in compressed sparse row (CSR) form, for pruned weights: the nonzeros of row i
// are values[row_start[i] .. row_start[i + 1]), in the columns col_index[...] (ascending).
#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"

namespace oa {

struct CsrMatrix {
  std::int64_t rows = 0, cols = 0;
  std::vector<std::int64_t> row_start;  // rows + 1 entries
  std::vector<std::int32_t> col_index;
  Tensor values;  // [nonzeros], the dtype of the dense matrix, on the CPU

  std::int64_t nonzeros() const { return static_cast<std::int64_t>(col_index.size()); }
  // The exact nonzeros of a 2-D tensor.
  static CsrMatrix from_dense(const Tensor& matrix);
};

}  // namespace oa
