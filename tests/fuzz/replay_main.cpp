// The main of the corpus replays (ctest label `fuzz`): linked with one fuzz_<parser>.cpp, it
// feeds every file of the directories it is given to that target's LLVMFuzzerTestOneInput, as
// libFuzzer does when given a corpus, but without libFuzzer, so that every build (gcc Release,
// the ASan + UBSan build of CI) runs the seed corpus and the regression inputs found earlier.
// A crash, a sanitizer finding or an escaping exception fails the test; so does an empty corpus.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
    return 2;
  }
  for (int a = 1; a < argc; ++a) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(argv[a]))
      if (entry.is_regular_file()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      std::fprintf(stderr, "%s: no corpus files\n", argv[a]);
      return 1;
    }
    for (const fs::path& file : files) {
      std::printf("%s\n", file.filename().c_str());
      std::fflush(stdout);  // so that a crash shows which input caused it
      std::ifstream in(file, std::ios::binary);
      const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    }
    std::printf("replayed %zu inputs of %s\n", files.size(), argv[a]);
  }
  return 0;
}
