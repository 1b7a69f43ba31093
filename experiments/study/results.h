#pragma once
// Reading run_study's results.json (the contract between run_study and the report:
// results_schema.md beside this file). Every reader here takes a missing, null or mistyped part
// as absent (nullptr, NaN, an empty list), so that the report says "not run" instead of failing.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace oa::study {

using nlohmann::json;

// The value under a path of object keys; nullptr when a key is missing, a step is not an
// object, or the value is null.
const json* find(const json& root, std::initializer_list<const char*> path);
// The number under a path; NaN when absent or not a number.
double number_at(const json& root, std::initializer_list<const char*> path);
// The text under a path; `fallback` when absent or not a string.
std::string text_at(const json& root, std::initializer_list<const char*> path, const std::string& fallback = "");
// The elements of the array under a path; empty when absent or not an array.
std::vector<const json*> array_at(const json& root, std::initializer_list<const char*> path);

// The successful attacks of one DIST (schema: indices, l2, linf, success_l2, success_linf) for
// one norm ("l2" or "linf"): a sample counts when its success flag is true and its distance a
// finite number. A DIST may also carry "attacked": [bool...] (the sample was classified
// correctly and attacked); without it, unattacked and failed samples cannot be told apart.
struct Distances {
  std::int64_t samples = 0;    // samples listed
  std::int64_t attacked = -1;  // samples attacked; -1 when the DIST does not say
  std::vector<std::int64_t> indices;  // the samples attacked successfully...
  std::vector<double> values;         // ...and their minimal distances
};
Distances read_distances(const json* dist, const std::string& norm);

// A model's DIST: attacks.<stage>.<split> (stage "before" or "after", split "train" or "test").
const json* model_distances(const json& model, const std::string& stage, const std::string& split);

}  // namespace oa::study
