#pragma once
// The data sets the executables know by name, and the options every run_* shares.
#include <memory>
#include <string>

#include "framework/data/dataset.h"
#include "framework/data/image_folder_stream.h"

namespace oa::experiments {

struct DataChoice {
  std::string name = "fashion-mnist";  // fashion-mnist | mnist | cifar10 | image-folder
  std::string dir;                     // empty: the data set's default directory
  std::string labels = "true";         // true | parity (odd index -> 1, even -> 0)
  std::int64_t limit = 0;              // keep only the first N samples (0: all)
  std::int64_t image_size = 224;       // image-folder: centre-crop side (resize to 8/7 of it)
};

// Loads `split` ("train" or "test"; an image folder reads DIR/train and DIR/val).
data::Dataset load_dataset(const DataChoice& choice, const std::string& split);

// An image folder's split (DIR/train or DIR/val; the first --limit files) as a stream of
// batches decoded on a background thread with bounded memory: how run_eval reads ImageNet.
std::unique_ptr<data::ImageFolderStream> stream_image_folder(const DataChoice& choice, const std::string& split,
                                                             std::int64_t batch_size);

// The default directory of a data set ("" when it has none).
std::string default_data_dir(const std::string& name);

}  // namespace oa::experiments
