#pragma once
// ImageFolderStream: an image folder (image_folder.h) served in batches, in the folder's
// order, decoded on a background thread while the caller works on the batch before.
// ImageNet's validation set alone is 50,000 images (about 30 GB as float32 224x224x3), so
// nothing is kept beyond the batches in flight: at most `prefetch` batches are decoded or
// waiting (and one more is the caller's), whatever the folder's size.
//
//   ImageFolderStream stream(index_image_folder(root, limit), {.resize = 256, .crop = 224},
//                            {.batch_size = 64});
//   while (auto batch = stream.next()) evaluate(batch->images, batch->labels);
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "framework/data/image_folder.h"
#include "framework/data/loader.h"

namespace oa::data {

struct StreamOptions {
  std::int64_t batch_size = 64;
  std::int64_t prefetch = 2;  // batches decoded ahead of next(): the memory bound
};

class ImageFolderStream {
 public:
  ImageFolderStream(ImageFolderIndex index, ImageFolderOptions image, StreamOptions options);
  ~ImageFolderStream();  // stops the background thread, also in the middle of the folder
  ImageFolderStream(const ImageFolderStream&) = delete;
  ImageFolderStream& operator=(const ImageFolderStream&) = delete;

  // The next batch (images float32 [B, C, crop, crop], labels, indices into the index), or
  // nullopt after the last. An image that cannot be read is rethrown here, naming the file,
  // after the batches before it.
  std::optional<Batch> next();

  const ImageFolderIndex& index() const { return index_; }
  std::int64_t channels() const { return image_.grayscale ? 1 : 3; }
  // The most batches the stream held at once (being decoded or waiting for next()): at most
  // options.prefetch. Tests read it to check the memory bound.
  std::int64_t peak_batches_held() const;

 private:
  void produce();  // the background thread's body
  Batch decode_batch(std::int64_t b) const;

  const ImageFolderIndex index_;
  const ImageFolderOptions image_;
  const StreamOptions options_;
  const std::int64_t batches_;

  // Shared with the producer, guarded by mutex_; changed_ is notified whenever one changes.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  std::exception_ptr error_;  // the producer's failure, after the batches in ready_
  std::int64_t handed_out_ = 0;
  std::int64_t peak_held_ = 0;
  bool stopping_ = false;
  std::thread producer_;  // last: started once everything above exists
};

}  // namespace oa::data
