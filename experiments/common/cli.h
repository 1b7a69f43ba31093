#pragma once
// The shared end of every run_* main(): parse the command line (CLI11 prints --help and
// usage errors itself), run, and turn an exception into "NAME: error: ..." with exit code 1.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "framework/util/runtime.h"

namespace oa::experiments {

// The flags every run_* shares: CPU threads and the device that runs the model.
struct RuntimeOptions {
  int threads = 2;
  std::string device = "cpu";

  void add_to(CLI::App& app) {
    app.add_option("--threads", threads, "CPU threads")->capture_default_str();
    app.add_option("--device", device, "cpu or cuda (the GPU; the data stays on the host until each batch)")
        ->capture_default_str();
  }
  // Sets the thread count and returns the device, checked to be usable.
  Device apply() const {
    set_num_threads(threads);
    return parse_device(device);
  }
};

template <class Body>
int run_cli(CLI::App& app, int argc, char** argv, const char* name, Body&& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace oa::experiments
