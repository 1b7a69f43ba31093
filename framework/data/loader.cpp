#include "framework/data/loader.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "framework/data/augment.h"

namespace oa::data {

namespace {

// The augmentation seed of batch b of epoch e. seed_seq keeps only 32 bits of each value,
// so every 64-bit input goes in as two halves.
std::uint64_t batch_seed(std::uint64_t seed, std::int64_t epoch, std::int64_t b) {
  auto lo = [](auto v) { return static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)); };
  auto hi = [](auto v) { return static_cast<std::uint32_t>(static_cast<std::uint64_t>(v) >> 32); };
  std::seed_seq seq{lo(seed), hi(seed), lo(epoch), hi(epoch), lo(b), hi(b), std::uint32_t{0xa09}};
  std::uint32_t words[2];
  seq.generate(words, words + 2);
  return (std::uint64_t{words[0]} << 32) | words[1];
}

}  // namespace

BatchLoader::BatchLoader(Dataset data, LoaderOptions options) : data_(std::move(data)), options_(options) {
  OA_CHECK(options_.batch_size >= 1, "BatchLoader: batch size must be at least 1, got {}", options_.batch_size);
  OA_CHECK(options_.augmentation.crop_padding >= 0, "BatchLoader: crop padding must be >= 0, got {}",
           options_.augmentation.crop_padding);
  OA_CHECK(data_.images.defined() && data_.labels.defined(), "BatchLoader: dataset '{}' has no images or labels",
           data_.name);
  OA_CHECK(data_.images.device() == Device::CPU, "BatchLoader: dataset '{}' must be on the CPU, got {}", data_.name,
           describe(data_.images));
  OA_CHECK(data_.labels.dim() == 1 && data_.labels.size(0) == data_.size(),
           "BatchLoader: dataset '{}' has images {} but labels {}", data_.name, describe(data_.images),
           describe(data_.labels));
}

BatchLoader::~BatchLoader() { stop_worker(); }

std::int64_t BatchLoader::batches_per_epoch() const {
  const std::int64_t n = data_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void BatchLoader::begin_epoch(std::int64_t epoch) {
  stop_worker();
  // The worker is gone: the shared state can be reset without the lock.
  ready_.clear();
  stop_ = false;
  finished_ = false;
  error_ = nullptr;
  std::vector<std::int64_t> order(static_cast<std::size_t>(data_.size()));
  if (options_.shuffle) {
    order = shuffled_indices(data_.size(), options_.seed, epoch);
  } else {
    std::iota(order.begin(), order.end(), 0);
  }
  worker_ = std::thread([this, epoch, order = std::move(order)] { produce(epoch, order); });
}

std::optional<Batch> BatchLoader::next() {
  OA_CHECK(worker_.joinable(), "BatchLoader::next: call begin_epoch first");
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || finished_; });
  if (ready_.empty()) {
    if (error_) std::rethrow_exception(error_);
    return std::nullopt;
  }
  Batch batch = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  changed_.notify_all();  // there is room in the queue again
  return batch;
}

void BatchLoader::produce(std::int64_t epoch, const std::vector<std::int64_t>& order) {
  std::exception_ptr error;
  try {
    for (std::int64_t b = 0; b < batches_per_epoch(); ++b) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || ready_.size() < kQueueDepth; });
        if (stop_) return;
      }
      Batch batch = make_batch(epoch, b, order);  // the slow part, outside the lock
      {
        std::lock_guard lock(mutex_);
        ready_.push_back(std::move(batch));
      }
      changed_.notify_all();
    }
  } catch (...) {
    error = std::current_exception();
  }
  {
    std::lock_guard lock(mutex_);
    error_ = error;
    finished_ = true;
  }
  changed_.notify_all();
}

Batch BatchLoader::make_batch(std::int64_t epoch, std::int64_t b, const std::vector<std::int64_t>& order) const {
  const std::int64_t first = b * options_.batch_size;
  const std::int64_t last = std::min(first + options_.batch_size, data_.size());
  Batch batch;
  batch.indices.assign(order.begin() + first, order.begin() + last);
  batch.images = take_rows(data_.images, batch.indices);
  batch.labels = take_rows(data_.labels, batch.indices);
  Rng rng(batch_seed(options_.seed, epoch, b));
  const Augmentation& augment = options_.augmentation;
  if (augment.crop_padding > 0) random_crop_with_padding(batch.images, augment.crop_padding, rng);
  if (augment.horizontal_flip) random_horizontal_flip(batch.images, rng);
  return batch;
}

void BatchLoader::stop_worker() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

}  // namespace oa::data
