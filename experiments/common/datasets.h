#pragma once
// The data sets the executables know by name, and the options every run_* shares.
#include <string>

#include "framework/data/dataset.h"

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

// The default directory of a data set ("" when it has none).
std::string default_data_dir(const std::string& name);

}  // namespace oa::experiments
