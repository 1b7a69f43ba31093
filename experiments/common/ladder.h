#pragma once
// The files of a capacity ladder, shared by run_prune (which builds one) and run_adv_train
// (which writes an adversarially fine-tuned sibling with the same layout):
//   DIR/ladder.json   {"options": ..., "rungs": [one row per model, the dense model first]}
//   DIR/ladder.csv    the rows as a table
//   DIR/<rung>/       checkpoint.safetensors, train_predictions.npy, capacity.json
// where <rung> is "dense" or rung_name(sparsity).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/nn/module.h"

namespace oa::experiments {

std::string rung_name(double sparsity);  // "rung-0.9"

// The columns every ladder row has.
extern const std::vector<std::string> kLadderColumns;

// `rows` as CSV with the given columns (strings unquoted, numbers as JSON writes them).
std::string ladder_csv(const nlohmann::json& rows, const std::vector<std::string>& columns);

// Measures `model` as rung `name` (target sparsity `target`) and writes dir/train_predictions.npy
// and dir/capacity.json (rank 0 of a data-parallel run; every rank measures): train and test
// accuracy, nonzero parameters and FLOPs, the sparsity against `dense_weights` (the dense
// model's weight count; 0: this model is the dense one), and how many training samples the
// dense model (its predictions `dense_predictions`; empty: this one) gets right and this one
// wrong, and the reverse. `predictions` receives this
// model's predicted class of every training sample. Returns the row, kLadderColumns' keys.
nlohmann::json measure_rung(nn::Module& model, const std::string& name, double target, double seconds,
                            const data::Dataset& train, const data::Dataset& test, std::int64_t dense_weights,
                            const std::vector<std::int64_t>& dense_predictions, const std::filesystem::path& dir,
                            std::vector<std::int64_t>& predictions);

}  // namespace oa::experiments
