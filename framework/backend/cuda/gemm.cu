// Matrix products on the GPU: matmul (the back end's one cuBLAS GEMM wrapper, which hides
// cuBLAS's column-major convention), and the bias helpers of linear layers:
//   add_row_bias:  out[i, j] += bias[j]
//   sum_rows:      grad_bias[j] = sum_i grad[i, j]
#include <algorithm>
#include <cstdint>
#include <limits>

#include "framework/backend/cuda/context.h"
#include "framework/backend/cuda/kernels.h"

namespace oa::cuda {

namespace {

int blas_int(std::int64_t v, const char* what) {
  OA_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "matmul: {} = {} does not fit cuBLAS's int", what, v);
  return static_cast<int>(v);
}

cublasOperation_t blas_op(bool transpose) { return transpose ? CUBLAS_OP_T : CUBLAS_OP_N; }

// The two precisions of cuBLAS's classic GEMM, behind one name.
cublasStatus_t gemm_call(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
                         const float* a, int lda, const float* b, int ldb, const float* beta, float* c, int ldc) {
  return cublasSgemm(cublas(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
cublasStatus_t gemm_call(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* alpha,
                         const double* a, int lda, const double* b, int ldb, const double* beta, double* c, int ldc) {
  return cublasDgemm(cublas(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <class T>
__global__ void add_row_bias_kernel(const T* bias, T* out, std::int64_t n, std::int64_t cols) {
  for (std::int64_t i = thread_index(); i < n; i += thread_count())
    out[i] += bias[i % cols];
}

// Column sums of a [rows, cols] matrix. A block covers kColumns adjacent columns (one warp
// reads them coalesced) with kLanes rows in flight; each thread sums every kLanes-th row of
// its column in double, then the kLanes partial sums of a column are added in shared memory.
constexpr int kColumns = 32, kLanes = 8;
template <class T>
__global__ void sum_rows_kernel(const T* grad, T* grad_bias, std::int64_t rows, std::int64_t cols) {
  __shared__ double partial[kLanes][kColumns];
  const std::int64_t col = blockIdx.x * static_cast<std::int64_t>(kColumns) + threadIdx.x;
  double s = 0;
  if (col < cols)
    for (std::int64_t r = threadIdx.y; r < rows; r += kLanes) s += grad[r * cols + col];
  partial[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    double total = 0;
    for (int lane = 0; lane < kLanes; ++lane) total += partial[lane][threadIdx.x];
    grad_bias[col] = static_cast<T>(total);
  }
}

}  // namespace

// Row-major C[M, N] = op(A)[M, K] @ op(B)[K, N] (beta = 0: C is overwritten).
//
// cuBLAS is column-major: it reads a row-major [r, c] matrix with row stride ld as the
// column-major [c, r] matrix, i.e. its transpose. So the row-major C is, to cuBLAS, C^T
// ([N, M], leading dimension N), and C^T = op(B)^T @ op(A)^T. We therefore ask cuBLAS for
// C^T = op'(B) @ op'(A): the operands swap places, M and N swap, and each operand keeps its
// own transpose flag (B as stored already *is* B^T to cuBLAS, so "no transpose" of the
// stored matrix gives op(B)^T when op is the identity, and CUBLAS_OP_T gives it when op
// transposes). The leading dimensions are the row strides as stored: b.size(1), a.size(1), N.
void matmul(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c) {
  if (c.numel() == 0) return;
  const std::int64_t m = c.size(0), n = c.size(1);
  const std::int64_t k = trans_a ? a.size(0) : a.size(1);
  dispatch_floating(c.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    T* pc = c.data<T>();
    if (k == 0) {  // an empty sum: C = 0
      OA_CUDA_CHECK(cudaMemsetAsync(pc, 0, c.nbytes(), stream()));
      return;
    }
    const T alpha_t = 1, beta_t = 0;  // host scalars (pointer mode host)
    // cuBLAS requires ld >= max(1, rows of the column-major view); the stored row strides satisfy it.
    const int lda = blas_int(std::max<std::int64_t>(1, a.size(1)), "lda");
    const int ldb = blas_int(std::max<std::int64_t>(1, b.size(1)), "ldb");
    OA_CUBLAS_CHECK(gemm_call(blas_op(trans_b), blas_op(trans_a), blas_int(n, "N"), blas_int(m, "M"),
                              blas_int(k, "K"), &alpha_t, b.data<T>(), ldb, a.data<T>(), lda, &beta_t, pc,
                              blas_int(n, "ldc")));
  });
}

void add_row_bias(const Tensor& bias, Tensor& out) {
  if (out.numel() == 0) return;
  dispatch_floating(out.dtype(), "linear bias", [&](auto tag) {
    using T = decltype(tag);
    add_row_bias_kernel<<<blocks_for(out.numel()), kThreads, 0, stream()>>>(bias.data<T>(), out.data<T>(),
                                                                           out.numel(), out.size(1));
    OA_CUDA_LAUNCH_CHECK();
  });
}

void sum_rows(const Tensor& grad, Tensor& grad_bias) {
  if (grad_bias.numel() == 0) return;  // with zero rows the kernel still writes the zeros
  dispatch_floating(grad.dtype(), "linear bias backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = grad.size(0), cols = grad.size(1);
    const dim3 block(kColumns, kLanes);
    const dim3 grid(static_cast<unsigned>((cols + kColumns - 1) / kColumns));
    sum_rows_kernel<<<grid, block, 0, stream()>>>(grad.data<T>(), grad_bias.data<T>(), rows, cols);
    OA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace oa::cuda
