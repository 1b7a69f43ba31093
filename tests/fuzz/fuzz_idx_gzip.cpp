// Fuzz target: gzip-compressed IDX files (framework/data/idx.h). The input is the IDX content;
// the target gzips it, so that the fuzzer mutates the IDX header and data rather than the
// compressed stream (fuzz_idx covers broken gzip streams).
#include <zlib.h>

#include <vector>

#include "framework/data/idx.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// `data` as a gzip stream (deflate with the gzip wrapper: windowBits 15 + 16).
std::vector<std::uint8_t> gzip(const std::uint8_t* data, std::size_t size) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::vector<std::uint8_t> out(deflateBound(&stream, static_cast<uLong>(size)));
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = static_cast<uInt>(size);
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const oa::fuzz::ScratchFile file("idx.gz");
  const std::vector<std::uint8_t> compressed = gzip(data, size);
  oa::fuzz::parse_input(file, compressed.data(), compressed.size(),
                        [](const std::string& path) { oa::data::read_idx(path); });
  return 0;
}
