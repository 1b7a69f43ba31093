#pragma once
// A synthetic results.json in run_study's schema (experiments/study/results_schema.md), with
// effects of known sign, for the report's tests and its demo (make_demo_report).
#include <nlohmann/json.hpp>

#include <cstdint>

namespace oa::test {

struct SyntheticOptions {
  std::uint64_t seed = 1;
  int models_per_ladder = 5;
  int samples = 30;
  // +1: the minimal distance grows as capacity falls (H2 and H3 hold); -1: it shrinks; 0: flat.
  int distance_trend = 1;
  bool depth_ladder = true;     // a second ladder, of kind "depth"
  bool after = true;            // attacks and robust accuracy after adversarial fine-tuning
  bool outlier = true;          // one OutlierAttack pair, dense against the most compressed rung
  bool memorisation = true;     // the index-parity control, with the smallest distances
  bool failed_check = true;     // one of the sanity checks failed
};

nlohmann::json synthetic_results(const SyntheticOptions& options = {});

}  // namespace oa::test
