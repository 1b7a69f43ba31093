// Fuzz target: JPEG and PNG files through the image loader (framework/data/image_folder.h):
// stb_image's decoder, then our resize and centre crop. The sizes are small so that the
// fuzzer spends its time in the decoder.
#include "framework/data/image_folder.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const oa::fuzz::ScratchFile file("image");
  oa::fuzz::parse_input(file, data, size, [](const std::string& path) {
    oa::data::load_image(path, {.resize = 16, .crop = 12, .grayscale = false});
  });
  return 0;
}
