#pragma once
// CIFAR-10, binary version (cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html,
// unpacked: the directory cifar-10-batches-bin). Each file is a run of 3073-byte records:
// one label byte (0..9), then the 32x32 image as three 1024-byte planes (red, green, blue),
// each plane row-major. That is already the [C, H, W] order of our tensors.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/dataset.h"

namespace oa::data {

// Reads one or more CIFAR-10 batch files, in order, into one Dataset (class names included).
// Throws naming the file: missing, size not a multiple of 3073 bytes, a label byte >= 10.
Dataset read_cifar10_files(const std::vector<std::string>& paths, const std::string& name);

// split "train": data_batch_1.bin .. data_batch_5.bin (50,000 images); "test": test_batch.bin.
Dataset load_cifar10(const std::string& dir, const std::string& split);

}  // namespace oa::data
