// CIFAR-10 binary batches: the record layout (label byte, then R, G, B planes of 32x32,
// row-major), several files in order, the train/test file names, and the errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "framework/data/cifar10.h"
#include "tests/common/temp_dir.h"

using oa::test::TempDir;
using oa::test::write_file;

namespace {

// The byte a test record stores for (channel, row, col); `seed` tells records apart.
unsigned char pixel(int seed, int channel, int row, int col) {
  return static_cast<unsigned char>((17 * seed + 40 * channel + 5 * row + col) % 256);
}

// One 3073-byte record: the label, then the three planes.
std::string record(int label, int seed) {
  std::string bytes(1, static_cast<char>(label));
  for (int c = 0; c < 3; ++c)
    for (int r = 0; r < 32; ++r)
      for (int col = 0; col < 32; ++col) bytes += static_cast<char>(pixel(seed, c, r, col));
  return bytes;
}

float expected(int seed, int channel, int row, int col) {
  return static_cast<float>(pixel(seed, channel, row, col)) / 255.0f;
}

}  // namespace

TEST_CASE("cifar10: records decode into [N, 3, 32, 32] planes, files concatenated in order") {
  TempDir dir;
  write_file(dir.file("a.bin"), record(3, 0) + record(9, 1));
  write_file(dir.file("b.bin"), record(0, 2));
  const auto d = oa::data::read_cifar10_files({dir.file("a.bin"), dir.file("b.bin")}, "tiny");
  CHECK(d.images.shape() == oa::Shape{3, 3, 32, 32});
  CHECK(d.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 9, 0});
  CHECK(d.classes == 10);
  REQUIRE(d.class_names.size() == 10);
  CHECK(d.class_names[3] == "cat");
  // Pixel (row 0, col 1) of the green plane is byte 1 + 1024 + 1 of the record.
  CHECK(d.images.at({0, 1, 0, 1}) == expected(0, 1, 0, 1));
  CHECK(d.images.at({1, 2, 31, 30}) == expected(1, 2, 31, 30));
  CHECK(d.images.at({2, 0, 5, 7}) == expected(2, 0, 5, 7));
  // Every value: the record's pixel bytes in order, scaled to [0, 1].
  const auto values = d.images.to_vector<float>();
  for (int s = 0; s < 3; ++s) {
    const std::string bytes = record(0, s).substr(1);
    for (std::size_t j = 0; j < bytes.size(); ++j)
      REQUIRE(values[s * 3072 + j] == static_cast<float>(static_cast<unsigned char>(bytes[j])) / 255.0f);
  }
}

TEST_CASE("cifar10: load_cifar10 reads data_batch_1..5 for train and test_batch for test") {
  TempDir dir;
  for (int b = 1; b <= 5; ++b) write_file(dir.file("data_batch_" + std::to_string(b) + ".bin"), record(b, b));
  write_file(dir.file("test_batch.bin"), record(7, 0) + record(8, 1));
  const auto train = oa::data::load_cifar10(dir.path.string(), "train");
  CHECK(train.size() == 5);
  CHECK(train.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  CHECK(train.images.at({4, 1, 0, 1}) == expected(5, 1, 0, 1));
  CHECK(train.name == "cifar10/train");
  const auto test = oa::data::load_cifar10(dir.path.string(), "test");
  CHECK(test.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 8});
  CHECK_THROWS_WITH(oa::data::load_cifar10(dir.path.string(), "val"), doctest::Contains("split"));
  CHECK_THROWS_WITH(oa::data::load_cifar10(dir.file("nowhere"), "test"), doctest::Contains("not found"));
}

TEST_CASE("cifar10: errors name the file") {
  TempDir dir;
  SUBCASE("missing file") {
    for (int b = 1; b <= 4; ++b) write_file(dir.file("data_batch_" + std::to_string(b) + ".bin"), record(0, 0));
    CHECK_THROWS_WITH(oa::data::load_cifar10(dir.path.string(), "train"),
                      doctest::Contains((dir.file("data_batch_5.bin") + ": no such file").c_str()));
  }
  SUBCASE("size not a multiple of 3073") {
    write_file(dir.file("short.bin"), record(1, 0) + "abc");
    CHECK_THROWS_WITH(oa::data::read_cifar10_files({dir.file("short.bin")}, "x"),
                      doctest::Contains((dir.file("short.bin") + ": size 3076 bytes is not a positive").c_str()));
  }
  SUBCASE("empty file") {
    write_file(dir.file("empty.bin"), "");
    CHECK_THROWS_WITH(oa::data::read_cifar10_files({dir.file("empty.bin")}, "x"),
                      doctest::Contains((dir.file("empty.bin") + ": size 0 bytes").c_str()));
  }
  SUBCASE("label byte >= 10") {
    write_file(dir.file("bad.bin"), record(1, 0) + record(10, 1));
    CHECK_THROWS_WITH(oa::data::read_cifar10_files({dir.file("bad.bin")}, "x"),
                      doctest::Contains((dir.file("bad.bin") + ": record 1 has label byte 10").c_str()));
  }
}
