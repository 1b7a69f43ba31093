// Fuzz target: CIFAR-10 binary batch files (framework/data/cifar10.h).
#include "framework/data/cifar10.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const oa::fuzz::ScratchFile file("cifar10.bin");
  oa::fuzz::parse_input(file, data, size,
                        [](const std::string& path) { oa::data::read_cifar10_files({path}, "fuzz"); });
  return 0;
}
