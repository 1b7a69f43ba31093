// BatchLoader: every index once per epoch, batches that match their indices, drop_last,
// the (seed, epoch) order, augmentation that repeats whatever the consumer's speed,
// errors from the worker thread, and shutdown in the middle of an epoch.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/data/loader.h"

using oa::Tensor;
using oa::data::Batch;
using oa::data::BatchLoader;
using oa::data::Dataset;
using oa::data::LoaderOptions;

namespace {

// n images [1, 4, 4]; every pixel of image i holds 100 * i + its position (0..15), so an
// image tells its index and its pixels are distinct; label i % 3.
Dataset numbered_dataset(std::int64_t n) {
  std::vector<float> pixels;
  std::vector<std::int64_t> labels;
  for (std::int64_t i = 0; i < n; ++i) {
    for (int p = 0; p < 16; ++p) pixels.push_back(static_cast<float>(100 * i + p + 1));
    labels.push_back(i % 3);
  }
  return {"numbered", Tensor::from_vector(pixels, {n, 1, 4, 4}), Tensor::from_vector(labels, {n}), 3};
}

// All batches of one epoch.
std::vector<Batch> epoch_batches(BatchLoader& loader, std::int64_t epoch) {
  loader.begin_epoch(epoch);
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

std::vector<std::int64_t> all_indices(const std::vector<Batch>& batches) {
  std::vector<std::int64_t> indices;
  for (const auto& b : batches) indices.insert(indices.end(), b.indices.begin(), b.indices.end());
  return indices;
}

}  // namespace

TEST_CASE("loader: each index exactly once per epoch, rows match their indices") {
  BatchLoader loader(numbered_dataset(10), {.batch_size = 3, .shuffle = true, .seed = 4});
  CHECK(loader.batches_per_epoch() == 4);
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    const auto batches = epoch_batches(loader, epoch);
    REQUIRE(batches.size() == 4);
    CHECK(batches.back().indices.size() == 1);
    const auto order = all_indices(batches);
    CHECK(order == oa::data::shuffled_indices(10, 4, epoch));
    auto sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int64_t> expected(10);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(sorted == expected);
    for (const auto& b : batches) {
      const auto size = static_cast<std::int64_t>(b.indices.size());
      REQUIRE(b.images.shape() == oa::Shape{size, 1, 4, 4});
      for (std::int64_t r = 0; r < size; ++r) {
        CHECK(b.images.at({r, 0, 0, 0}) == static_cast<float>(100 * b.indices[r] + 1));
        CHECK(b.labels.at({r}) == b.indices[r] % 3);
      }
    }
  }
  // Once the epoch is over, next() keeps answering nullopt.
  CHECK_FALSE(loader.next().has_value());
}

TEST_CASE("loader: without shuffle the dataset order; drop_last leaves out the short batch") {
  BatchLoader plain(numbered_dataset(7), {.batch_size = 2, .shuffle = false});
  std::vector<std::int64_t> in_order(7);
  std::iota(in_order.begin(), in_order.end(), 0);
  CHECK(all_indices(epoch_batches(plain, 0)) == in_order);
  CHECK(all_indices(epoch_batches(plain, 1)) == in_order);

  BatchLoader dropping(numbered_dataset(7), {.batch_size = 2, .shuffle = true, .seed = 1, .drop_last = true});
  CHECK(dropping.batches_per_epoch() == 3);
  const auto batches = epoch_batches(dropping, 0);
  REQUIRE(batches.size() == 3);
  for (const auto& b : batches) CHECK(b.indices.size() == 2);
  auto seen = all_indices(batches);
  std::sort(seen.begin(), seen.end());
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());  // no index twice
}

TEST_CASE("loader: same seed, same batches, whatever the timing; another epoch, another order") {
  const LoaderOptions options{
      .batch_size = 4, .shuffle = true, .seed = 9, .augmentation = {.crop_padding = 2, .horizontal_flip = true}};
  BatchLoader fast(numbered_dataset(21), options);
  BatchLoader slow(numbered_dataset(21), options);
  const auto a = epoch_batches(fast, 2);
  slow.begin_epoch(2);
  std::vector<Batch> b;
  while (auto batch = slow.next()) {
    b.push_back(std::move(*batch));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the worker runs ahead and waits
  }
  REQUIRE(a.size() == b.size());
  bool augmented = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].indices == b[i].indices);
    CHECK(a[i].images.to_vector<float>() == b[i].images.to_vector<float>());
    // The augmentation did something: some pixel differs from the stored image.
    const auto raw = oa::data::take_rows(numbered_dataset(21).images, a[i].indices);
    augmented = augmented || raw.to_vector<float>() != a[i].images.to_vector<float>();
  }
  CHECK(augmented);
  CHECK(all_indices(epoch_batches(fast, 3)) != all_indices(a));
}

TEST_CASE("loader: an error on the worker thread is rethrown by next()") {
  // Float64 images cannot be flipped (augmentation wants float32): the worker fails.
  Dataset d = numbered_dataset(6);
  d.images = d.images.to(oa::DType::Float64);
  BatchLoader loader(d, {.batch_size = 2, .augmentation = {.horizontal_flip = true}});
  loader.begin_epoch(0);
  CHECK_THROWS_WITH(loader.next(), doctest::Contains("random_horizontal_flip"));
}

TEST_CASE("loader: bad use is refused") {
  CHECK_THROWS_WITH(BatchLoader(numbered_dataset(3), {.batch_size = 0}), doctest::Contains("batch size"));
  Dataset mismatched = numbered_dataset(3);
  mismatched.labels = Tensor::zeros({2}, oa::DType::Int64);
  CHECK_THROWS_WITH(BatchLoader(mismatched, {}), doctest::Contains("labels"));
  BatchLoader loader(numbered_dataset(3), {});
  CHECK_THROWS_WITH(loader.next(), doctest::Contains("begin_epoch"));
}

TEST_CASE("loader: stopping in the middle of an epoch does not hang") {
  for (int round = 0; round < 20; ++round) {
    BatchLoader loader(numbered_dataset(50), {.batch_size = 2, .seed = static_cast<std::uint64_t>(round)});
    loader.begin_epoch(0);
    if (round % 2) CHECK(loader.next().has_value());  // half the time, take one batch first
    loader.begin_epoch(1);                             // abandon epoch 0 half-way
    CHECK(loader.next()->indices.size() == 2);
  }  // each loader is destroyed with its worker waiting for room in the queue
  BatchLoader never_started(numbered_dataset(5), {});
}
