#include "experiments/common/datasets.h"

#include <filesystem>

#include "framework/data/cifar10.h"
#include "framework/data/idx.h"
#include "framework/data/image_folder.h"
#include "framework/data/labels.h"

namespace oa::experiments {

std::string default_data_dir(const std::string& name) {
  if (name == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  if (name == "mnist") return "/usr/share/datasets/mnist";
  return "";
}

namespace {
data::Dataset load_split(const DataChoice& c, const std::string& dir, const std::string& split) {
  if (c.name == "fashion-mnist" || c.name == "mnist") {
    data::Dataset d = data::load_fashion_mnist(dir, split);  // the same IDX file names
    d.name = c.name + "/" + split;
    return d;
  }
  if (c.name == "cifar10") return data::load_cifar10(dir, split);
  OA_CHECK(c.name == "image-folder", "--data: unknown data set '{}' (fashion-mnist, mnist, cifar10, image-folder)",
           c.name);
  const std::int64_t resize = c.image_size * 8 / 7;  // 224 -> 256, as torchvision's evaluation
  return data::load_image_folder((std::filesystem::path(dir) / (split == "train" ? "train" : "val")).string(),
                                 {.resize = resize, .crop = c.image_size});
}
}  // namespace

data::Dataset load_dataset(const DataChoice& c, const std::string& split) {
  const std::string dir = c.dir.empty() ? default_data_dir(c.name) : c.dir;
  OA_CHECK(!dir.empty(), "--data {} needs --data-dir", c.name);
  data::Dataset d = data::head(load_split(c, dir, split), c.limit);
  if (c.labels == "parity") return data::with_parity_labels(std::move(d));
  OA_CHECK(c.labels == "true", "--labels must be 'true' or 'parity', got '{}'", c.labels);
  return d;
}

}  // namespace oa::experiments
