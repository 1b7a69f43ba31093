#include "framework/data/cifar10.h"

#include <filesystem>
#include <fstream>

namespace oa::data {

namespace {

constexpr std::int64_t kSide = 32;
constexpr std::int64_t kPixels = 3 * kSide * kSide;  // one record's image bytes
constexpr std::int64_t kRecord = 1 + kPixels;         // label byte + image

// The number of records in `path`, after checking that the file exists and holds whole records.
std::int64_t count_records(const std::string& path) {
  OA_CHECK(std::filesystem::is_regular_file(path), "{}: no such file", path);
  const auto bytes = static_cast<std::int64_t>(std::filesystem::file_size(path));
  OA_CHECK(bytes > 0 && bytes % kRecord == 0,
           "{}: size {} bytes is not a positive multiple of the {}-byte CIFAR-10 record", path, bytes, kRecord);
  return bytes / kRecord;
}

}  // namespace

Dataset read_cifar10_files(const std::vector<std::string>& paths, const std::string& name) {
  // First pass: sizes only, so a bad file is reported before 600 MB are allocated.
  std::int64_t total = 0;
  for (const auto& path : paths) total += count_records(path);

  Dataset d{name, Tensor::empty({total, 3, kSide, kSide}), Tensor::empty({total}, DType::Int64), 10,
            {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}};
  float* pixels = d.images.data<float>();
  std::int64_t* labels = d.labels.data<std::int64_t>();
  std::vector<unsigned char> record(kRecord);
  std::int64_t sample = 0;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    OA_CHECK(in.good(), "{}: cannot open", path);
    for (std::int64_t r = 0, n = count_records(path); r < n; ++r, ++sample) {
      OA_CHECK(in.read(reinterpret_cast<char*>(record.data()), kRecord), "{}: read error in record {}", path, r);
      OA_CHECK(record[0] < 10, "{}: record {} has label byte {} (expected 0..9)", path, r, record[0]);
      labels[sample] = record[0];
      float* image = pixels + sample * kPixels;
      for (std::int64_t i = 0; i < kPixels; ++i) image[i] = static_cast<float>(record[1 + i]) / 255.0f;
    }
  }
  return d;
}

Dataset load_cifar10(const std::string& dir, const std::string& split) {
  OA_CHECK(split == "train" || split == "test", "cifar10: split must be 'train' or 'test', got '{}'", split);
  OA_CHECK(std::filesystem::is_directory(dir),
           "cifar10: directory {} not found (unpack cifar-10-binary.tar.gz and pass its cifar-10-batches-bin)", dir);
  std::vector<std::string> files;
  if (split == "train") {
    for (int b = 1; b <= 5; ++b)
      files.push_back((std::filesystem::path(dir) / fmt::format("data_batch_{}.bin", b)).string());
  } else {
    files.push_back((std::filesystem::path(dir) / "test_batch.bin").string());
  }
  return read_cifar10_files(files, "cifar10/" + split);
}

}  // namespace oa::data
