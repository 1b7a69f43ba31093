// Fuzz target: IDX files (framework/data/idx.h) as they come; zlib reads a gzip input as gzip
// and anything else as raw bytes. fuzz_idx_gzip compresses the input first.
#include "framework/data/idx.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const oa::fuzz::ScratchFile file("idx");
  oa::fuzz::parse_input(file, data, size, [](const std::string& path) { oa::data::read_idx(path); });
  return 0;
}
