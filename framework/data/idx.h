#pragma once
// IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw (zlib reads both).
// Format: 2 zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions,
// then each dimension as a big-endian uint32, then the data in row-major order.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/dataset.h"

namespace oa::data {

struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> values;
};

// Reads an unsigned-byte IDX file; throws naming the file and the problem (missing file,
// wrong magic, unsupported type, short read, trailing data).
IdxArray read_idx(const std::string& path);

// Images (N x H x W) scaled to [0, 1] as [N, 1, H, W] and labels (N) as int64; the counts must agree.
Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, const std::string& name,
                      std::int64_t classes = 10);

// Fashion-MNIST from `dir` (Debian's dataset-fashion-mnist: /usr/share/datasets/fashion-mnist);
// split is "train" or "test". Accepts the .gz files or unpacked ones.
Dataset load_fashion_mnist(const std::string& dir, const std::string& split);

}  // namespace oa::data
