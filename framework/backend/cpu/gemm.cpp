#include "framework/backend/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include "framework/backend/cpu/kernels.h"

namespace oa::cpu {

namespace {
// OpenBLAS must not start threads of its own inside our OpenMP regions: one thread each.
const bool g_single_threaded_blas = [] {
  openblas_set_num_threads(1);
  return true;
}();

CBLAS_TRANSPOSE cblas_trans(bool t) { return t ? CblasTrans : CblasNoTrans; }
}  // namespace

template <>
void gemm<float>(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                 std::int64_t ldc) {
  cblas_sgemm(CblasRowMajor, cblas_trans(trans_a), cblas_trans(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

template <>
void gemm<double>(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                  const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                  std::int64_t ldc) {
  cblas_dgemm(CblasRowMajor, cblas_trans(trans_a), cblas_trans(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c) {
  (void)g_single_threaded_blas;
  const std::int64_t m = c.size(0), n = c.size(1);
  const std::int64_t k = trans_a ? a.size(0) : a.size(1);
  const std::int64_t lda = a.size(1), ldb = b.size(1);
  dispatch_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = c.data<T>();
    // Split the rows of C across threads; each block is one GEMM. Row i of op(A) starts
    // at a + i*lda (no transpose) or at column i, a + i (transposed).
    const bool parallel = m * n * k > (1 << 18) && m >= 2 * omp_get_max_threads();
#pragma omp parallel if (parallel)
    {
      const int threads = omp_get_num_threads(), id = omp_get_thread_num();
      const std::int64_t rows = (m + threads - 1) / threads;
      const std::int64_t first = std::min<std::int64_t>(m, id * rows);
      const std::int64_t count = std::min<std::int64_t>(m, first + rows) - first;
      if (count > 0)
        gemm<T>(trans_a, trans_b, count, n, k, T(1), pa + (trans_a ? first : first * lda), lda, pb, ldb, T(0),
                pc + first * n, n);
    }
  });
}

void add_row_bias(const Tensor& bias, Tensor& out) {
  dispatch_floating(out.dtype(), "linear bias", [&](auto tag) {
    using T = decltype(tag);
    const T* pb = bias.data<T>();
    T* po = out.data<T>();
    const std::int64_t rows = out.size(0), cols = out.size(1);
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) po[i * cols + j] += pb[j];
  });
}

void sum_rows(const Tensor& grad, Tensor& grad_bias) {
  dispatch_floating(grad.dtype(), "linear bias backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = grad.data<T>();
    T* pb = grad_bias.data<T>();
    const std::int64_t rows = grad.size(0), cols = grad.size(1);
    std::fill_n(pb, cols, T(0));
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) pb[j] += pg[i * cols + j];
  });
}

}  // namespace oa::cpu
