#include "experiments/common/datasets.h"

#include <filesystem>

#include "framework/data/cifar10.h"
#include "framework/data/idx.h"
#include "framework/data/image_folder.h"
#include "framework/data/image_folder_stream.h"
#include "framework/data/labels.h"

namespace oa::experiments {

std::string default_data_dir(const std::string& name) {
  if (name == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  if (name == "mnist") return "/usr/share/datasets/mnist";
  return "";
}

namespace {

// The folder of an image-folder split (DIR/train or DIR/val) and its pipeline: the centre crop
// of --image-size after resizing the shorter side to 8/7 of it (224 -> 256, as torchvision's
// evaluation).
std::string image_folder_split(const std::string& dir, const std::string& split) {
  return (std::filesystem::path(dir) / (split == "train" ? "train" : "val")).string();
}
data::ImageFolderOptions image_folder_options(const DataChoice& c) {
  return {.resize = c.image_size * 8 / 7, .crop = c.image_size};
}

std::string data_dir(const DataChoice& c) {
  const std::string dir = c.dir.empty() ? default_data_dir(c.name) : c.dir;
  OA_CHECK(!dir.empty(), "--data {} needs --data-dir", c.name);
  return dir;
}

data::Dataset load_split(const DataChoice& c, const std::string& dir, const std::string& split) {
  if (c.name == "fashion-mnist" || c.name == "mnist") {
    data::Dataset d = data::load_fashion_mnist(dir, split);  // the same IDX file names
    d.name = c.name + "/" + split;
    return d;
  }
  if (c.name == "cifar10") return data::load_cifar10(dir, split);
  OA_CHECK(c.name == "image-folder", "--data: unknown data set '{}' (fashion-mnist, mnist, cifar10, image-folder)",
           c.name);
  return data::load_image_folder(image_folder_split(dir, split), image_folder_options(c), c.limit);
}

}  // namespace

data::Dataset load_dataset(const DataChoice& c, const std::string& split) {
  data::Dataset d = data::head(load_split(c, data_dir(c), split), c.limit);
  if (c.labels == "parity") return data::with_parity_labels(std::move(d));
  OA_CHECK(c.labels == "true", "--labels must be 'true' or 'parity', got '{}'", c.labels);
  return d;
}

std::unique_ptr<data::ImageFolderStream> stream_image_folder(const DataChoice& c, const std::string& split,
                                                             std::int64_t batch_size) {
  OA_CHECK(c.name == "image-folder", "stream_image_folder: --data is {}, not image-folder", c.name);
  OA_CHECK(c.labels == "true", "--labels {}: a streamed image folder keeps its folder labels (true)", c.labels);
  return std::make_unique<data::ImageFolderStream>(data::index_image_folder(image_folder_split(data_dir(c), split), c.limit),
                                                   image_folder_options(c), data::StreamOptions{.batch_size = batch_size});
}

}  // namespace oa::experiments
