#pragma once
// The shared end of every run_* main(): parse the command line (CLI11 prints --help and
// usage errors itself; a usage error exits 2, as is the custom of command-line tools), run,
// and turn an exception into "NAME: error: ..." with exit code 1.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include "framework/dist/dist.h"
#include "framework/util/runtime.h"

namespace oa::experiments {

// Range checks of numeric flags, with messages that read well ("--batch-size: Value 0 is not
// above 0"; CLI11's PositiveNumber prints its bound, DBL_MAX, with all 309 digits). A value that
// is not a number, NaN included, fails both.
inline CLI::Validator number_check(const char* description, const char* requirement, bool (*holds)(double)) {
  return CLI::Validator(
      [requirement, holds](std::string& text) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(text, value)) return "Value " + text + " is not a number";
        return holds(value) ? std::string() : "Value " + text + " is not " + requirement;
      },
      description);
}
inline const CLI::Validator Positive = number_check("POSITIVE", "above 0", [](double v) { return v > 0; });
inline const CLI::Validator NonNegative = number_check("NON-NEGATIVE", "0 or above", [](double v) { return v >= 0; });

// The flags every run_* shares: CPU threads and the device that runs the model.
struct RuntimeOptions {
  int threads = 2;
  std::string device = "cpu";

  void add_to(CLI::App& app) {
    app.add_option("--threads", threads, "CPU threads")->capture_default_str()->check(Positive);
    app.add_option("--device", device, "cpu or cuda (the GPU; the data stays on the host until each batch)")
        ->capture_default_str();
  }
  // Sets the thread count and returns the device, checked to be usable.
  Device apply() const {
    set_num_threads(threads);
    return parse_device(device);
  }
};

// A finite number >= 0 (CLI::NonNegativeNumber lets NaN through: NaN < 0 is false).
inline const CLI::Validator kFiniteNonNegative(
    [](std::string& text) -> std::string {
      double value = 0;
      if (!CLI::detail::lexical_cast(text, value)) return "'" + text + "' is not a number";
      if (!std::isfinite(value) || value < 0) return "'" + text + "' must be finite and >= 0";
      return "";
    },
    "FINITE>=0");

// The command-line flag of an option, the third argument of a record's visit (record.h):
//   visit("steps", o.steps, Flag{"--ddn-steps", "ddn: gradient steps", Positive});
// An option without a flag is visited with two arguments (it is recorded, not set).
struct Flag {
  const char* name;
  const char* help;
  std::optional<CLI::Validator> check = std::nullopt;
  bool show_default = true;  // false where the default depends on other flags (--preset)
};

// Adds `flag` to `group`, bound to `value`; a flag already there (--iterations, shared by
// cw-l2 and cw-linf) is not added twice.
template <class T>
void add_flag(CLI::App& group, T& value, const Flag& flag) {
  if (group.get_option_no_throw(flag.name)) return;
  CLI::Option* option = group.add_option(flag.name, value, flag.help);
  if (flag.show_default) option->capture_default_str();
  if (flag.check) option->check(*flag.check);
}
template <class T>
void add_flag(CLI::App&, T&) {}  // an option without a flag

// Adds to `group` the flag of every field of `options` that has one.
template <class Options>
void add_flags(CLI::App& group, Options& options) {
  Options::fields(options, [&](const char*, auto& value, const auto&... flag) { add_flag(group, value, flag...); });
}

// Sets `value` from `flag` if the flag was given on the parsed command line `app`.
template <class T>
void take_given_flag(const CLI::App& app, T& value, const Flag& flag) {
  if (app.count(flag.name) > 0) app.get_option(flag.name)->results(value);
}
template <class T>
void take_given_flag(const CLI::App&, T&) {}  // an option without a flag

// Sets every field of `options` whose flag was given on the parsed command line `app`, also a
// field not bound to its flag (cw-linf's --iterations); the others keep their value.
template <class Options>
void take_given_flags(const CLI::App& app, Options& options) {
  Options::fields(options,
                  [&](const char*, auto& value, const auto&... flag) { take_given_flag(app, value, flag...); });
}

// Which samples of the split a run attacks: --n N (the first N) or --indices FILE (those it
// lists: one index a line, or a .npy of int64), not both.
inline void add_sample_flags(CLI::App& app, std::int64_t& n, std::string& indices) {
  CLI::Option* first_n =
      app.add_option("--n", n, "The first N samples of the split")->capture_default_str()->check(Positive);
  app.add_option("--indices", indices, "Attack these samples of the split instead (one index a line, or .npy)")
      ->excludes(first_n);
}

// --out DIR, and --resume, which continues the samples.csv files in DIR and so needs --out.
inline void add_out_and_resume_flags(CLI::App& app, std::string& out, bool& resume, const char* out_help) {
  CLI::Option* out_option = app.add_option("--out", out, out_help);
  app.add_flag("--resume", resume, "Continue the samples.csv files in --out")->needs(out_option);
}

// For the executables that do not split their work over MPI ranks: under mpirun -np K > 1
// each rank would run the whole job, so that is an error that says what to do instead
// (`instead`: what to do, for run_study its --launcher).
inline void check_single_rank(const char* name, const char* instead = "run it as one process") {
  OA_CHECK(dist::world_size() == 1,
           "{} does not split its work over MPI ranks ({} ranks here): {} (run_train, run_prune, run_adv_train, "
           "run_cw, run_blackbox and run_outlier do split theirs)",
           name, dist::world_size(), instead);
}

// --simulate-ranks K: the data-parallel steps of K MPI ranks in this one process (the training
// loop's TrainEpochOptions::simulated_ranks), what a run under mpirun -np K is tested against.
inline void add_simulate_ranks_flag(CLI::App& app, int& ranks) {
  app.add_option("--simulate-ranks", ranks,
                 "Train as K data-parallel MPI ranks would, in this one process (reproduces an mpirun -np K run)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

// Parses the command line and runs body() as one rank of the run's dist world (a world of one
// without mpirun). Ranks other than 0 keep stdout quiet (their errors still reach stderr). An
// error on any rank ends every rank: the others may be waiting for it inside a collective.
template <class Body>
int run_cli(CLI::App& app, int argc, char** argv, const char* name, Body&& body) {
  std::optional<dist::Session> session;
  try {
    session.emplace();  // throws under an MPI launcher in a build without MPI
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 1;
  }
  if (dist::rank() != 0 && !std::freopen("/dev/null", "w", stdout))
    std::fprintf(stderr, "%s: rank %d: cannot silence stdout\n", name, dist::rank());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help: 0
  }
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    if (dist::world_size() > 1) dist::abort(1);
    return 1;
  }
}

}  // namespace oa::experiments
