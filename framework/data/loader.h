#pragma once
// BatchLoader: serves a Dataset in mini-batches, one epoch at a time. One background thread
// prepares the batches (gathers the rows, augments them) and keeps up to two of them ready,
// so the next batch is waiting while the model trains on the current one.
//
// Reproducible whatever the thread timing: the order of epoch e depends only on (seed, e)
// (data::shuffled_indices), and batch b of epoch e is augmented with an Rng seeded from
// (seed, e, b) alone. begin_epoch() and next() belong to one thread (the training loop).
//
//   BatchLoader loader(train, {.batch_size = 128, .seed = 1,
//                              .augmentation = {.crop_padding = 4, .horizontal_flip = true}});
//   for (std::int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.begin_epoch(epoch);
//     while (auto batch = loader.next()) train_step(batch->images, batch->labels);
//   }
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "framework/data/dataset.h"

namespace oa::data {

struct Augmentation {
  std::int64_t crop_padding = 0;  // random_crop_with_padding with this pad; 0 = off
  bool horizontal_flip = false;   // random_horizontal_flip
};

struct LoaderOptions {
  std::int64_t batch_size = 128;
  bool shuffle = true;        // false: the dataset order in every epoch
  std::uint64_t seed = 0;
  Augmentation augmentation = {};  // none by default
  bool drop_last = false;     // leave out the last batch of an epoch when it is short
};

struct Batch {
  Tensor images;                      // float32 [B, C, H, W], CPU
  Tensor labels;                      // int64 [B]
  std::vector<std::int64_t> indices;  // the dataset index of each row
};

class BatchLoader {
 public:
  // The Dataset is taken by value: that copies tensor handles, not pixels.
  BatchLoader(Dataset data, LoaderOptions options);
  ~BatchLoader();  // stops the background thread, also in the middle of an epoch
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts epoch `epoch` (dropping what is left of the current one): fixes its order and
  // starts preparing its batches.
  void begin_epoch(std::int64_t epoch);

  // The next batch of the epoch, or nullopt when the epoch is over. An exception thrown
  // while preparing a batch is rethrown here, after the batches before it.
  std::optional<Batch> next();

  std::int64_t batches_per_epoch() const;

 private:
  static constexpr std::size_t kQueueDepth = 2;  // batches kept ready ahead of next()

  void produce(std::int64_t epoch, const std::vector<std::int64_t>& order);  // the thread's body
  Batch make_batch(std::int64_t epoch, std::int64_t b, const std::vector<std::int64_t>& order) const;
  void stop_worker();

  const Dataset data_;
  const LoaderOptions options_;
  std::thread worker_;

  // Shared with the worker, guarded by mutex_. `changed_` is notified whenever any of them
  // changes; both sides wait on it for their own condition.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  bool stop_ = false;      // set by the main thread: the worker must return
  bool finished_ = false;  // set by the worker: no more batches will come this epoch
  std::exception_ptr error_;
};

}  // namespace oa::data
