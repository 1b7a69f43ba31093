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

CsrMatrix CsrMatrix::transposed() const {
  CsrMatrix t;
  t.rows = cols;
  t.cols = rows;
  t.row_start.assign(static_cast<std::size_t>(cols + 1), 0);
  for (const auto j : col_index) ++t.row_start[static_cast<std::size_t>(j) + 1];
  for (std::int64_t j = 0; j < cols; ++j) t.row_start[j + 1] += t.row_start[j];
  // Walking rows in order fills each transposed row with ascending column indices.
  const auto source = values.to_vector<double>();
  std::vector<double> moved(source.size());
  t.col_index.resize(col_index.size());
  std::vector<std::int64_t> next(t.row_start.begin(), t.row_start.end() - 1);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t e = row_start[i]; e < row_start[i + 1]; ++e) {
      const std::int64_t slot = next[col_index[e]]++;
      t.col_index[slot] = static_cast<std::int32_t>(i);
      moved[slot] = source[e];
    }
  t.values = Tensor::from_vector(moved, {nonzeros()}).to(values.dtype());
  return t;
}

}  // namespace oa
