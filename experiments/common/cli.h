#pragma once
// The shared end of every run_* main(): parse the command line (CLI11 prints --help and
// usage errors itself), run, and turn an exception into "NAME: error: ..." with exit code 1.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

namespace oa::experiments {

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
