// IDX files: a round trip of a small file, and headers that lie about the data behind them.
#include <doctest/doctest.h>

#include <string>

#include "framework/data/idx.h"
#include "tests/common/temp_dir.h"

using oa::test::TempDir;
using oa::test::write_file;

namespace {

// An unsigned-byte IDX header with the given dimensions (big-endian uint32 each).
std::string idx_header(std::initializer_list<std::uint32_t> dims) {
  std::string bytes{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) bytes += static_cast<char>((d >> shift) & 0xff);
  return bytes;
}

}  // namespace

TEST_CASE("idx: dimensions and values read back") {
  TempDir dir;
  write_file(dir.file("a.idx"), idx_header({2, 3}) + std::string("\x01\x02\x03\x04\x05\xff", 6));
  const auto a = oa::data::read_idx(dir.file("a.idx"));
  CHECK(a.dims == std::vector<std::int64_t>{2, 3});
  CHECK(a.values == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 255});
}

TEST_CASE("idx: a header announcing gigabytes over a few bytes of data fails as a short file, before allocating them") {
  TempDir dir;
  // 2^20 * 2^10 * 2^3 = 8 GiB announced, 10 bytes present.
  write_file(dir.file("liar.idx"), idx_header({1u << 20, 1u << 10, 8}) + std::string(10, '\x07'));
  CHECK_THROWS_WITH_AS(oa::data::read_idx(dir.file("liar.idx")),
                       doctest::Contains("file ends early: the header announces 8589934592 data bytes, the file holds 10"),
                       oa::Error);
}

TEST_CASE("idx: trailing data and implausible dimensions are refused with the file's name") {
  TempDir dir;
  write_file(dir.file("long.idx"), idx_header({2}) + "abc");
  CHECK_THROWS_WITH_AS(oa::data::read_idx(dir.file("long.idx")), doctest::Contains("long.idx: trailing data"),
                       oa::Error);
  write_file(dir.file("zero.idx"), idx_header({0}));
  CHECK_THROWS_WITH_AS(oa::data::read_idx(dir.file("zero.idx")), doctest::Contains("implausible size 0"), oa::Error);
}
