// CUDA back-end tests. They need a GPU: where none can be used they print the reason and
// exit with 77, which ctest reports as "skipped" (never as passed).
#include <cstdio>
#include <string>
#include <vector>

#ifdef OA_WITH_CUDA
#include "framework/backend/cuda/cuda_memory.h"
#include "framework/core/tensor.h"
#endif

namespace {
constexpr int kSkipped = 77;

#ifdef OA_WITH_CUDA
int failures = 0;
void expect(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  failures += !ok;
}

// Host -> device -> host copies keep every value (float32, float64, int64).
void test_round_trip() {
  std::vector<float> values(1000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.5f * static_cast<float>(i) - 7.0f;
  const oa::Tensor host = oa::Tensor::from_vector(values, {10, 100});
  const oa::Tensor device = host.to(oa::Device::CUDA);
  expect(device.device() == oa::Device::CUDA, "tensor moved to the GPU reports device cuda");
  const oa::Tensor device_copy = device.clone();
  expect(device_copy.to(oa::Device::CPU).to_vector<float>() == values, "float32 round trip via a device clone");
  const oa::Tensor as_double = host.to(oa::DType::Float64).to(oa::Device::CUDA).to(oa::Device::CPU);
  expect(as_double.to_vector<float>() == values, "float64 round trip");
}
#endif
}  // namespace

int main() {
#ifndef OA_WITH_CUDA
  std::printf("skipped, no GPU: this build has no CUDA back end (nvcc was not found at configure time)\n");
  return kSkipped;
#else
  std::string why;
  if (oa::cuda::device_count(&why) == 0) {
    std::printf("skipped, no GPU: %s\n", why.c_str());
    return kSkipped;
  }
  test_round_trip();
  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
#endif
}
