// The main of the CUDA tests (label `cuda`): the CUDA back end against the CPU back end.
// The test cases live in test_cuda_*.cpp, their helpers and tolerances in cuda_compare.h.
//
// They need a GPU. Where the machine has none (a build without the CUDA back end, no device,
// no /dev/nvidia* device file: cuda::no_gpu_present) the program prints "skipped, no GPU:
// <reason>" and exits with 77, which ctest reports as skipped (SKIP_RETURN_CODE in
// CMakeLists.txt), never as passed. A GPU that CUDA cannot use (a driver too old for the
// toolkit, ...) is a failure with the runtime's reason. Otherwise doctest runs every case and
// the exit status is doctest's.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#ifdef OA_WITH_CUDA
#include "framework/backend/cuda/cuda_memory.h"
#endif

namespace {
constexpr int kSkipped = 77;

int skip(const std::string& why) {
  std::printf("skipped, no GPU: %s\n", why.c_str());
  std::fflush(stdout);
  return kSkipped;
}
}  // namespace

int main(int argc, char** argv) {
#ifndef OA_WITH_CUDA
  (void)argc, (void)argv;
  return skip("this build has no CUDA back end (nvcc was not found at configure time)");
#else
  std::string why;
  if (oa::cuda::device_count(&why) == 0) {
    if (oa::cuda::no_gpu_present()) return skip(why);
    std::printf("FAILED: this machine has a GPU (/dev/nvidia*), but CUDA cannot use it: %s\n", why.c_str());
    return 1;
  }
  doctest::Context context(argc, argv);
  return context.run();
#endif
}
