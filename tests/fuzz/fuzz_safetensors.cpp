// Fuzz target: safetensors files (framework/io/safetensors.h), the header alone and whole.
#include "framework/io/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const oa::fuzz::ScratchFile file("model.safetensors");
  oa::fuzz::parse_input(file, data, size, [](const std::string& path) {
    oa::io::read_safetensors_metadata(path);
    oa::io::read_safetensors(path);
  });
  return 0;
}
