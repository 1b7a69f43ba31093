// Unit tests of framework/io/npy: round trips, files laid out byte by byte as NumPy
// writes them, and the errors for malformed files (every message must name the file).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "framework/io/npy.h"
#include "tests/common/temp_dir.h"

namespace fs = std::filesystem;
using oa::DType;
using oa::Shape;
using oa::Tensor;

using oa::test::TempDir;
using oa::test::read_file;
using oa::test::write_file;

namespace {

template <class T>
std::string raw_bytes(const std::vector<T>& values) {
  return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)};
}

// A .npy file: magic, version major.0, header length (2 bytes for 1.0, 4 otherwise),
// `dict` padded with spaces and '\n' to a multiple of 64 bytes, then `data`.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((8 + length_bytes + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  for (std::size_t i = 0; i < length_bytes; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return out + header + data;
}

const std::string kDict23 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
const std::vector<float> kValues23 = {0, 1, 2, 3, 4, 5};

// Reading `path` must throw an oa::Error naming the file and containing each of `parts`.
void check_read_error(const std::string& path, std::initializer_list<std::string> parts) {
  try {
    oa::io::read_npy(path);
    FAIL("read_npy accepted " << path);
  } catch (const oa::Error& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    CHECK(message.find(path) != std::string::npos);
    for (const std::string& part : parts) CHECK(message.find(part) != std::string::npos);
  }
}

template <class T>
void check_round_trip(const std::vector<T>& values, const Shape& shape) {
  TempDir dir;
  const std::string path = dir.file("t.npy");
  const Tensor t = Tensor::from_vector(values, shape);
  oa::io::write_npy(path, t);
  CHECK(std::distance(fs::directory_iterator(dir.file("")), fs::directory_iterator{}) == 1);  // no temp left
  CHECK((fs::file_size(path) - t.nbytes()) % 64 == 0);  // the data starts 64-byte aligned
  const Tensor back = oa::io::read_npy(path);
  CHECK(back.dtype() == t.dtype());
  CHECK(back.shape() == shape);
  CHECK(back.to_vector<T>() == values);
}

}  // namespace

TEST_CASE_TEMPLATE("npy round trip", T, float, double, std::int64_t) {
  check_round_trip<T>({1, -2, 3, 4, 5, 6}, {2, 3});
  check_round_trip<T>({1, 2, 3}, {3});
  check_round_trip<T>({7}, {});  // 0-d
  check_round_trip<T>({}, {0});
  check_round_trip<T>({}, {3, 0, 2});
}

TEST_CASE("npy: write_npy produces NumPy's bytes") {
  // np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)) writes exactly these 152 bytes.
  const std::string numpy_bytes =
      std::string("\x93NUMPY\x01\x00\x76\x00", 10) + kDict23 + std::string(58, ' ') + "\n" + raw_bytes(kValues23);
  TempDir dir;
  const std::string path = dir.file("ours.npy");
  oa::io::write_npy(path, Tensor::from_vector(kValues23, {2, 3}));
  CHECK(read_file(path) == numpy_bytes);
}

TEST_CASE("npy: reads headers written in other valid ways") {
  TempDir dir;
  const std::string path = dir.file("in.npy");
  const auto check_reads = [&](const std::string& bytes) {
    write_file(path, bytes);
    const Tensor t = oa::io::read_npy(path);
    CHECK(t.shape() == Shape{2, 3});
    CHECK(t.to_vector<float>() == kValues23);
  };
  SUBCASE("version 2.0") { check_reads(npy_bytes(kDict23, raw_bytes(kValues23), 2)); }
  SUBCASE("version 3.0") { check_reads(npy_bytes(kDict23, raw_bytes(kValues23), 3)); }
  SUBCASE("other key order, spacing, quotes and trailing commas") {
    check_reads(npy_bytes("{ \"shape\" : ( 2 ,3 , ) ,'fortran_order':False,\t'descr':'<f4',}", raw_bytes(kValues23)));
  }
  SUBCASE("int32 is widened to int64") {
    write_file(path, npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
                               raw_bytes(std::vector<std::int32_t>{-1, 0, 2000000000})));
    const Tensor t = oa::io::read_npy(path);
    CHECK(t.dtype() == DType::Int64);
    CHECK(t.to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 0, 2000000000});
  }
}

TEST_CASE("npy: malformed files are refused with the file's name") {
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  const std::string data = raw_bytes(kValues23);
  const auto with_dict = [&](const std::string& dict) { return npy_bytes(dict, data); };

  SUBCASE("missing file") { check_read_error(dir.file("missing.npy"), {"cannot open"}); }
  SUBCASE("too short") {
    write_file(path, "\x93NUM");
    check_read_error(path, {"too short"});
  }
  SUBCASE("bad magic") {
    std::string bytes = npy_bytes(kDict23, data);
    bytes[5] = 'X';
    write_file(path, bytes);
    check_read_error(path, {"bad magic"});
  }
  SUBCASE("unknown version") {
    std::string bytes = npy_bytes(kDict23, data);
    bytes[6] = 4;
    write_file(path, bytes);
    check_read_error(path, {"version 4.0"});
  }
  SUBCASE("header length past the end of the file") {
    write_file(path, npy_bytes(kDict23, "").substr(0, 40));
    check_read_error(path, {"runs past the end"});
  }
  SUBCASE("truncated data") {
    write_file(path, npy_bytes(kDict23, data.substr(0, 20)));
    check_read_error(path, {"truncated", "needs 24 bytes", "has 20"});
  }
  SUBCASE("trailing bytes") {
    write_file(path, npy_bytes(kDict23, data + "xx"));
    check_read_error(path, {"trailing bytes", "has 26"});
  }
  SUBCASE("fortran order") {
    write_file(path, with_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"));
    check_read_error(path, {"Fortran"});
  }
  SUBCASE("unsupported dtype") {
    write_file(path, with_dict("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }"));
    check_read_error(path, {"unsupported dtype '<c8'"});
  }
  SUBCASE("malformed dicts") {
    const std::pair<const char*, const char*> cases[] = {
        {"{'descr': '<f4', 'shape': (2, 3)}", "needs the keys"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", "(n,)"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", "non-negative integer"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", "unexpected or repeated key"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}", "True or False"},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3)}", "expected ':'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", "after the dict"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", "expected '}'"},
    };
    for (const auto& [dict, reason] : cases) {
      CAPTURE(dict);
      write_file(path, with_dict(dict));
      check_read_error(path, {"malformed header", reason});
    }
  }
}

TEST_CASE("npy: a failed write names the file and keeps the old one") {
  TempDir dir;
  const std::string path = dir.file("t.npy");
  oa::io::write_npy(path, Tensor::from_vector(kValues23, {2, 3}));
  // A directory where the writer's temporary file (path.tmp.<pid>) would go: it cannot be created.
  fs::create_directory(path + ".tmp." + std::to_string(::getpid()));
  CHECK_THROWS_WITH_AS(oa::io::write_npy(path, Tensor::zeros({2})), doctest::Contains(path.c_str()), oa::Error);
  CHECK(oa::io::read_npy(path).to_vector<float>() == kValues23);
}
