// Unit tests of framework/io/safetensors: round trips, a file laid out byte by byte as the
// specification says, and the errors for malformed files (every message names the file).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "framework/io/safetensors.h"
#include "tests/common/temp_dir.h"

namespace fs = std::filesystem;
using oa::DType;
using oa::Shape;
using oa::Tensor;
using oa::io::read_safetensors;
using oa::io::write_safetensors;

// A path for `name` in a directory of this test run, removed with everything in it at the
// end of the run. Shared with test_checkpoint.cpp.
std::string temp_file(const std::string& name) {
  static const oa::test::TempDir dir;
  return dir.file(name);
}

using oa::test::read_file;
using oa::test::write_file;

namespace {

std::string le64(std::uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  return out;
}

// A safetensors file: the header size, the header text as given, then `data`.
std::string file_bytes(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

// Reading `path` must throw an oa::Error naming the file and containing each of `parts`.
void check_read_error(const std::string& path, const std::vector<std::string>& parts) {
  try {
    read_safetensors(path);
    FAIL("read_safetensors accepted " << path);
  } catch (const oa::Error& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    CHECK(message.find(path) != std::string::npos);
    for (const std::string& part : parts) CHECK(message.find(part) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("safetensors: round trip of every dtype, 0-d and empty tensors, and metadata") {
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"f32", Tensor::from_vector<float>({1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f}, {2, 3})},
      {"f64", Tensor::from_vector<double>({0.1, -1e300, 3.0}, {3})},
      {"i64", Tensor::from_vector<std::int64_t>({INT64_MIN, -1, 0, INT64_MAX}, {2, 2})},
      {"scalar", Tensor::scalar(42.5)},
      {"empty", Tensor::zeros({0, 3}, DType::Float64)},
      {"layer1.0.conv1.weight", Tensor::full({1, 1, 1, 1}, -3.0)},
  };
  const std::map<std::string, std::string> metadata = {{"format", "x"}, {"note", "caf\xC3\xA9 \"quoted\"\n"}};
  const std::string path = temp_file("round_trip.safetensors");
  write_safetensors(path, tensors, metadata);

  const oa::io::SafetensorsFile file = read_safetensors(path);
  CHECK(file.metadata == metadata);
  CHECK(oa::io::read_safetensors_metadata(path) == metadata);
  REQUIRE(file.tensors.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, expected] = tensors[i];
    const auto& [read_name, actual] = file.tensors[i];
    INFO("tensor " << name);
    CHECK(read_name == name);
    CHECK(actual.dtype() == expected.dtype());
    CHECK(actual.shape() == expected.shape());
    if (expected.dtype() == DType::Int64) {
      CHECK(actual.to_vector<std::int64_t>() == expected.to_vector<std::int64_t>());
    } else {
      CHECK(actual.to_vector<double>() == expected.to_vector<double>());
    }
  }
}

TEST_CASE("safetensors: the bytes written are the specification's layout") {
  const std::string path = temp_file("exact.safetensors");
  write_safetensors(path, {{"a", Tensor::from_vector<float>({1.0f, 2.0f}, {2})}, {"n", Tensor::scalar(-2, DType::Int64)}},
                    {{"k", "v"}});
  // 132 bytes of JSON, padded with 4 spaces to 136 = 0x88.
  const std::string header =
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("n":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}    )";
  const std::string expected = std::string("\x88\0\0\0\0\0\0\0", 8) + header +
                               std::string("\x00\x00\x80\x3F\x00\x00\x00\x40", 8) +  // 1.0f, 2.0f
                               std::string("\xFE\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 8);   // int64 -2
  CHECK(read_file(path) == expected);
}

TEST_CASE("safetensors: tensors come back in the order of their data, whatever the header order") {
  const std::string path = temp_file("order.safetensors");
  // Header order b, e, a; data order a, e (empty, at 8), b. Trailing spaces and no metadata.
  write_file(path, file_bytes(R"({"b": {"dtype": "F64", "shape": [1], "data_offsets": [8, 16]},)"
                              R"( "e": {"dtype": "F32", "shape": [2, 0], "data_offsets": [8, 8]},)"
                              R"( "a": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]}}   )",
                              le64(7) + std::string("\0\0\0\0\0\0\xF0\x3F", 8)));  // 7, 1.0
  const oa::io::SafetensorsFile file = read_safetensors(path);
  CHECK(file.metadata.empty());
  REQUIRE(file.tensors.size() == 3);
  CHECK(file.tensors[0].first == "a");
  CHECK(file.tensors[0].second.item() == 7);
  CHECK(file.tensors[1].first == "e");
  CHECK(file.tensors[1].second.shape() == Shape{2, 0});
  CHECK(file.tensors[2].first == "b");
  CHECK(file.tensors[2].second.to_vector<double>() == std::vector<double>{1.0});
}

TEST_CASE("safetensors: files cut short or with a bad header size are refused") {
  const std::string path = temp_file("bad_size.safetensors");
  check_read_error(temp_file("does_not_exist.safetensors"), {"cannot open"});
  write_file(path, std::string("\x02\0\0\0", 4));
  check_read_error(path, {"only 4 bytes, too short"});
  write_file(path, le64(100) + "{}");
  check_read_error(path, {"header size 100 runs past the end of the file (10 bytes)"});
  write_file(path, le64(UINT64_MAX) + "{}");
  check_read_error(path, {"header size 18446744073709551615 is over the limit"});
}

TEST_CASE("safetensors: malformed headers are refused with the tensor and the problem named") {
  // A header, the size of the data section (zero bytes) and what the message must say.
  struct Case {
    std::string header;
    std::size_t data_size;
    std::vector<std::string> parts;
  };
  const std::string f32x2 = R"({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  const std::vector<Case> cases = {
      {R"({"x": )", 0, {"not valid JSON"}},
      {"\xFF", 0, {"not valid JSON"}},
      {"[1, 2]", 0, {"not a JSON object but array"}},
      {R"({"x": 5})", 0, {"tensor 'x'", "not a JSON object but number"}},
      {R"({"x": {"shape": [], "data_offsets": [0, 0]}})", 0, {"tensor 'x'", R"(missing field "dtype")"}},
      {R"({"x": {"dtype": "F32", "data_offsets": [0, 0]}})", 0, {"tensor 'x'", R"(missing field "shape")"}},
      {R"({"x": {"dtype": "F32", "shape": []}})", 0, {"tensor 'x'", R"(missing field "data_offsets")"}},
      {R"({"x": {"dtype": 1, "shape": [], "data_offsets": [0, 4]}})", 4, {"tensor 'x'", R"("dtype" is not a string)"}},
      {R"({"x": {"dtype": "F16", "shape": [], "data_offsets": [0, 2]}})", 2,
       {"tensor 'x'", R"(unsupported dtype "F16")"}},
      {R"({"x": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})", 8, {"tensor 'x'", R"("shape" is not an array)"}},
      {R"({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})", 0,
       {"tensor 'x'", R"("shape" holds -1, not a non-negative integer)"}},
      {R"({"x": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4, {"tensor 'x'", R"("shape" holds 1.5)"}},
      {R"({"x": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 0]}})", 0,
       {"tensor 'x'", "shape [4611686018427387904,4] is too large"}},
      {R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", 8,
       {"tensor 'x'", R"("data_offsets" is [0], not an array [begin, end])"}},
      {R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": ["0", 8]}})", 8,
       {"tensor 'x'", R"("data_offsets" holds "0")"}},
      {R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8,
       {"tensor 'x'", "data_offsets [8, 0] end before they begin"}},
      {R"({"x": {"dtype": "F32", "shape": [1000000000], "data_offsets": [0, 4000000000]}})", 8,
       {"tensor 'x'", "data_offsets [0, 4000000000] run past the end of the data section (8 bytes)"}},
      {R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}})", 8,
       {"tensor 'x'", "data_offsets [0, 8] hold 8 bytes, but shape [1] of F32 needs 4"}},
      {R"({"x": )" + f32x2 + R"(, "y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8,
       {"tensor 'y' (bytes [4, 8)) overlaps tensor 'x' (bytes [0, 8))"}},
      {R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8,
       {"bytes [0, 4) of the data section belong to no tensor"}},
      {R"({"x": )" + f32x2 + "}", 12, {"bytes [8, 12) of the data section belong to no tensor"}},
      {R"({"x": )" + f32x2 + R"(, "x": )" + f32x2 + "}", 8, {"duplicate key 'x'"}},
      {R"({"x": {"dtype": "F32", "dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 8,
       {"duplicate key 'dtype'"}},
      {R"({"__metadata__": ["a"]})", 0, {R"("__metadata__" is not a JSON object but array)"}},
      {R"({"__metadata__": {"epoch": 3}})", 0, {R"("__metadata__" value of 'epoch' is not a string but number)"}},
  };
  const std::string path = temp_file("bad_header.safetensors");
  for (const Case& c : cases) {
    INFO("header: " << c.header);
    write_file(path, file_bytes(c.header, std::string(c.data_size, '\0')));
    check_read_error(path, c.parts);
  }
}

TEST_CASE("safetensors: writing refuses repeated and reserved tensor names") {
  const Tensor t = Tensor::zeros({1});
  const std::string path = temp_file("bad_names.safetensors");
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"a", t}, {"a", t}}),
                       doctest::Contains("the tensor name 'a' is reserved or repeated"), oa::Error);
  CHECK_THROWS_WITH_AS(write_safetensors(path, {{"__metadata__", t}}),
                       doctest::Contains("the tensor name '__metadata__' is reserved or repeated"), oa::Error);
  CHECK_FALSE(fs::exists(path));
}
