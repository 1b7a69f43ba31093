#pragma once
// The one GEMM wrapper of the CPU back end (OpenBLAS through CBLAS), row-major:
//   C[M, N] = alpha * op(A) @ op(B) + beta * C,  op(A) is [M, K], op(B) is [K, N].
// lda/ldb/ldc are the row strides of A, B, C as stored. Runs on the calling thread:
// parallelism comes from our OpenMP loops around it (BLAS threads are set to 1).
#include <cstdint>

namespace oa::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

}  // namespace oa::cpu
