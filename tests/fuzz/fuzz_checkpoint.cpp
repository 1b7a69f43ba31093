// Fuzz target: checkpoints (framework/io/checkpoint.h): the metadata JSON, then loading the
// file into a small model (conv, batch norm, linear: float, int64 and buffer tensors), which
// checks names, shapes and dtypes against the model's.
#include <memory>

#include "framework/core/random.h"
#include "framework/io/checkpoint.h"
#include "framework/nn/layers.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

oa::nn::Sequential& small_model() {
  static const std::shared_ptr<oa::nn::Sequential> model = [] {
    oa::Rng rng(0);
    auto m = std::make_shared<oa::nn::Sequential>();
    m->add(std::make_shared<oa::nn::Conv2d>(oa::nn::Conv2dOptions{.in_channels = 1, .out_channels = 2, .kernel = 3}, rng));
    m->add(std::make_shared<oa::nn::BatchNorm2d>(2));
    m->add(std::make_shared<oa::nn::Flatten>());
    m->add(std::make_shared<oa::nn::Linear>(2, 3, rng));
    return m;
  }();
  return *model;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const oa::fuzz::ScratchFile file("checkpoint.safetensors");
  oa::fuzz::parse_input(file, data, size, [](const std::string& path) {
    oa::io::read_checkpoint_metadata(path);
    oa::io::load_checkpoint(path, small_model(), /*strict=*/false);
    oa::io::load_checkpoint(path, small_model(), /*strict=*/true);
  });
  return 0;
}
