#pragma once
// Shared by the fuzz targets (fuzz_*.cpp). Our parsers read files by path, so each input is
// written to a scratch file first and the parser reads that file.
//
// What a target checks, besides "no crash, no leak, no sanitizer finding" (which libFuzzer and
// the sanitizers check): a rejected input throws oa::Error, whose message names the file.
// Any other exception (std::bad_alloc, std::length_error, a JSON library's own error) escapes
// LLVMFuzzerTestOneInput, and libFuzzer reports it as a crash: a finding to fix in the parser.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "framework/core/error.h"

namespace oa::fuzz {

// One file per process (the pid in its name: ctest runs the corpus replays side by side),
// rewritten for every input and removed at exit. TMPDIR chooses the directory.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name)
      : path_((std::filesystem::temp_directory_path() / ("oa_fuzz_" + std::to_string(getpid()) + "_" + name))
                  .string()) {}
  ~ScratchFile() { std::filesystem::remove(path_); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Replaces the file's contents with the input; returns its path.
  const std::string& write(const std::uint8_t* data, std::size_t size) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out.good()) {
      std::fprintf(stderr, "fuzz: cannot write the scratch file %s\n", path_.c_str());
      std::abort();
    }
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A rejection must say which file it is about; one that does not is a finding (abort).
inline void expect_names_file(const Error& error, const std::string& path) {
  if (std::string(error.what()).find(path) != std::string::npos) return;
  std::fprintf(stderr, "fuzz: the error does not name the file %s: %s\n", path.c_str(), error.what());
  std::abort();
}

// Writes the input to `file` and hands its path to `parse`; an oa::Error is an accepted outcome
// if it names the file, anything else escapes to libFuzzer.
template <class Parse>
void parse_input(const ScratchFile& file, const std::uint8_t* data, std::size_t size, Parse&& parse) {
  const std::string& path = file.write(data, size);
  try {
    parse(path);
  } catch (const Error& error) {
    expect_names_file(error, path);
  }
}

}  // namespace oa::fuzz
