#include "framework/util/runtime.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "framework/backend/memory.h"
#include "framework/core/error.h"

extern "C" char* openblas_get_corename(void);

namespace oa {

std::string blas_kernels() { return openblas_get_corename(); }

void select_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || !__builtin_cpu_supports("avx512f")) return;
  std::string core = blas_kernels();
  std::transform(core.begin(), core.end(), core.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* avx512_core : {"skylakex", "cooperlake", "sapphirerapids"})
    if (core == avx512_core) return;
  setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the AVX2 kernels
}

void set_num_threads(int threads) {
  OA_CHECK(threads >= 1, "--threads must be at least 1, got {}", threads);
  omp_set_num_threads(threads);
}

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  OA_CHECK(name == "cuda", "--device must be cpu or cuda, got '{}'", name);
  std::string why;
  OA_CHECK(backend::cuda_available(&why), "--device cuda: no GPU can be used here: {}", why);
  return Device::CUDA;
}

void synchronize(Device device) { backend::synchronize(device); }

}  // namespace oa
