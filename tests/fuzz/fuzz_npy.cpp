// Fuzz target: NumPy .npy files (framework/io/npy.h).
#include "framework/io/npy.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const oa::fuzz::ScratchFile file("array.npy");
  oa::fuzz::parse_input(file, data, size, [](const std::string& path) { oa::io::read_npy(path); });
  return 0;
}
