#pragma once
// Process-wide set-up shared by the executables: BLAS kernels and thread count.
#include <string>

#include "framework/core/dtype.h"

namespace oa {

// Call first thing in main(). Debian's OpenBLAS 0.3.21 does not know some AVX-512 CPUs
// (Zen 4/5) and falls back to its AVX2 (Haswell) kernels at half speed. It picks its kernels
// when the library loads, so where the CPU has avx512f and OpenBLAS chose a non-AVX-512
// core, this re-executes the program once with OPENBLAS_CORETYPE=SKYLAKEX. Never set on
// CPUs without avx512f (it would crash there with an illegal instruction).
void select_blas_kernels(char** argv);

// The OpenBLAS core in use, e.g. "SkylakeX" (printed by the benchmarks).
std::string blas_kernels();

// OpenMP threads for our loops (BLAS itself always runs one thread per caller).
void set_num_threads(int threads);

// The engine of float32 convolutions on the CPU: oneDNN (the default, `automatic`) or our
// im2col + GEMM kernels (every other dtype always runs those). For benchmarks and tests.
enum class CpuConvEngine { automatic, onednn, im2col };
void set_cpu_conv_engine(CpuConvEngine engine);
// The engine a CPU convolution of this dtype runs now: onednn or im2col, never automatic.
CpuConvEngine cpu_conv_engine(DType dtype);

// "cpu" or "cuda" (the --device flag of the executables). "cuda" throws, with the reason,
// when no GPU can be used; any other name throws too.
Device parse_device(const std::string& name);

// Waits until every kernel queued on `device` has finished (nothing to wait for on the CPU):
// for timing, since GPU kernels run asynchronously.
void synchronize(Device device);

}  // namespace oa
