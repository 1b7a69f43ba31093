#include "framework/core/csr.h"

namespace oa {

CsrMatrix CsrMatrix::from_dense(const Tensor& matrix) {
  check_rank(matrix, 2, "CsrMatrix::from_dense", "matrix");
  CsrMatrix m;
  m.rows = matrix.size(0);
  m.cols = matrix.size(1);
  OA_CHECK(m.cols <= INT32_MAX, "CsrMatrix: {} columns do not fit 32-bit indices", m.cols);
  const auto dense = matrix.to_vector<double>();
  std::vector<double> values;
  m.row_start.push_back(0);
  for (std::int64_t i = 0; i < m.rows; ++i) {
    for (std::int64_t j = 0; j < m.cols; ++j)
      if (const double v = dense[i * m.cols + j]; v != 0.0) {
        m.col_index.push_back(static_cast<std::int32_t>(j));
        values.push_back(v);
      }
    m.row_start.push_back(m.nonzeros());
  }
  m.values = Tensor::from_vector(values, {m.nonzeros()}).to(matrix.dtype());
  return m;
}

}  // namespace oa
