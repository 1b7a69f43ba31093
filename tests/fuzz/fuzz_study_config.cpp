// Fuzz target: run_study's --config files (experiments/study/config.h), over the quick preset.
#include "experiments/study/config.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const oa::fuzz::ScratchFile file("study.json");
  oa::fuzz::parse_input(file, data, size,
                        [](const std::string& path) { oa::study::load_study_config("quick", path); });
  return 0;
}
