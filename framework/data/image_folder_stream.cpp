#include "framework/data/image_folder_stream.h"

#include <algorithm>

namespace oa::data {

namespace {

// ceil(images / batch size), after checking the options.
std::int64_t batch_count(std::size_t images, const StreamOptions& options) {
  OA_CHECK(options.batch_size >= 1 && options.prefetch >= 1,
           "ImageFolderStream: batch size {} and prefetch {} must be at least 1", options.batch_size, options.prefetch);
  return (static_cast<std::int64_t>(images) + options.batch_size - 1) / options.batch_size;
}

}  // namespace

ImageFolderStream::ImageFolderStream(ImageFolderIndex index, ImageFolderOptions image, StreamOptions options)
    : index_(std::move(index)), image_(image), options_(options), batches_(batch_count(index_.files.size(), options)) {
  image_.check();
  producer_ = std::thread([this] { produce(); });
}

ImageFolderStream::~ImageFolderStream() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  producer_.join();
}

Batch ImageFolderStream::decode_batch(std::int64_t b) const {
  const auto first = static_cast<std::size_t>(b * options_.batch_size);
  const auto last = std::min(index_.files.size(), first + static_cast<std::size_t>(options_.batch_size));
  Batch batch;
  const std::vector<std::string> files(index_.files.begin() + first, index_.files.begin() + last);
  batch.images = load_images(files, image_);
  batch.labels = Tensor::from_vector(std::vector<std::int64_t>(index_.labels.begin() + first, index_.labels.begin() + last),
                                     {static_cast<std::int64_t>(last - first)});
  for (std::size_t i = first; i < last; ++i) batch.indices.push_back(static_cast<std::int64_t>(i));
  return batch;
}

void ImageFolderStream::produce() {
  for (std::int64_t b = 0; b < batches_; ++b) {
    {
      // Start batch b only when it keeps the batches held (waiting + this one) within prefetch.
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || static_cast<std::int64_t>(ready_.size()) < options_.prefetch; });
      if (stopping_) return;
      peak_held_ = std::max(peak_held_, static_cast<std::int64_t>(ready_.size()) + 1);
    }
    try {
      Batch batch = decode_batch(b);
      std::lock_guard lock(mutex_);
      ready_.push_back(std::move(batch));
    } catch (...) {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
    }
    changed_.notify_all();
    if (error_) return;  // only this thread writes error_
  }
}

std::optional<Batch> ImageFolderStream::next() {
  std::unique_lock lock(mutex_);
  if (handed_out_ == batches_) return std::nullopt;
  changed_.wait(lock, [&] { return !ready_.empty() || error_; });
  if (ready_.empty()) std::rethrow_exception(error_);
  Batch batch = std::move(ready_.front());
  ready_.pop_front();
  ++handed_out_;
  lock.unlock();
  changed_.notify_all();
  return batch;
}

std::int64_t ImageFolderStream::peak_batches_held() const {
  std::lock_guard lock(mutex_);
  return peak_held_;
}

}  // namespace oa::data
