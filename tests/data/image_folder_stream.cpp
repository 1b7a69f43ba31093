// ImageFolderStream: the batches equal load_image_folder's, in order; memory stays bounded
// (batches held at once) over a folder much larger than the bound; errors name the file.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

// The test writes its own PNGs (stb_image_write's implementation, private to this file).
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include "framework/data/image_folder_stream.h"
#include "tests/common/temp_dir.h"

using oa::Tensor;
using oa::data::ImageFolderStream;
using oa::test::TempDir;

namespace {

// `count` 12x10 PNGs in `classes` class folders; image i is filled with the value i % 256.
void write_folder(const TempDir& dir, int count, int classes) {
  for (int i = 0; i < count; ++i) {
    const std::vector<unsigned char> pixels(12 * 10 * 3, static_cast<unsigned char>(i % 256));
    const std::string path = dir.file("class" + std::to_string(i % classes) + "/img" + std::to_string(1000 + i) + ".png");
    REQUIRE(stbi_write_png(path.c_str(), 10, 12, 3, pixels.data(), 30) != 0);
  }
}

}  // namespace

TEST_CASE("image folder stream: the batches of load_image_folder, in order, with indices") {
  TempDir dir;
  write_folder(dir, 11, 3);
  const oa::data::ImageFolderOptions image{.resize = 8, .crop = 6};
  const auto whole = oa::data::load_image_folder(dir.path.string(), image);
  ImageFolderStream stream(oa::data::index_image_folder(dir.path.string()), image, {.batch_size = 4, .prefetch = 2});
  std::vector<float> pixels;
  std::vector<std::int64_t> labels, indices;
  std::vector<std::int64_t> sizes;
  while (auto batch = stream.next()) {
    sizes.push_back(batch->images.size(0));
    const auto p = batch->images.to_vector<float>();
    pixels.insert(pixels.end(), p.begin(), p.end());
    const auto l = batch->labels.to_vector<std::int64_t>();
    labels.insert(labels.end(), l.begin(), l.end());
    indices.insert(indices.end(), batch->indices.begin(), batch->indices.end());
  }
  CHECK(sizes == std::vector<std::int64_t>{4, 4, 3});
  CHECK(pixels == whole.images.to_vector<float>());
  CHECK(labels == whole.labels.to_vector<std::int64_t>());
  CHECK(indices == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK_FALSE(stream.next().has_value());
}

TEST_CASE("image folder stream: at most `prefetch` batches held over a folder 20 times larger") {
  TempDir dir;
  write_folder(dir, 80, 2);
  // 40 batches of 2, a slow consumer: the producer runs ahead until the bound stops it.
  ImageFolderStream stream(oa::data::index_image_folder(dir.path.string()), {.resize = 12, .crop = 10},
                           {.batch_size = 2, .prefetch = 2});
  std::int64_t batches = 0;
  while (auto batch = stream.next()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ++batches;
  }
  CHECK(batches == 40);
  CHECK(stream.peak_batches_held() == 2);  // it did run ahead, and never further than the bound
}

TEST_CASE("image folder stream: an unreadable image is rethrown after the batches before it; early stop") {
  TempDir dir;
  write_folder(dir, 6, 1);
  oa::test::write_file(dir.file("class0/img1003.png"), "not a png");
  ImageFolderStream stream(oa::data::index_image_folder(dir.path.string()), {.resize = 12, .crop = 10},
                           {.batch_size = 2, .prefetch = 1});
  CHECK(stream.next().has_value());  // images 0 and 1
  CHECK_THROWS_WITH(stream.next(), doctest::Contains((dir.file("class0/img1003.png") + ": cannot decode image").c_str()));
  // Destroying a stream with batches still to come stops its thread (the ctest timeout catches a hang).
  ImageFolderStream unfinished(oa::data::index_image_folder(dir.path.string(), 2), {.resize = 12, .crop = 10},
                               {.batch_size = 1, .prefetch = 1});
  CHECK_THROWS_WITH(ImageFolderStream(oa::data::index_image_folder(dir.path.string()), {.resize = 4, .crop = 5}, {}),
                    doctest::Contains("need 1 <= crop <= resize"));
}
