#pragma once
// Model checkpoints: safetensors files (safetensors.h) holding a module's parameters and
// buffers under their torchvision state_dict names ("layer1.0.conv1.weight",
// "bn1.running_mean", "bn1.num_batches_tracked"), so that torchvision weights converted by
// tools/torchvision_to_safetensors.py load directly.
//
// The metadata is a JSON object stored in "__metadata__", which only holds strings: plain
// string values are stored as they are, other values (and strings whose text is itself
// JSON, like "true" or "42") as their JSON text. Loading turns every value that is valid
// JSON text back into JSON, so metadata round-trips exactly. The key "format" marks the
// file as a checkpoint.
#include <nlohmann/json.hpp>
#include <string>

#include "framework/io/safetensors.h"
#include "framework/nn/module.h"

namespace oa::io {

inline constexpr const char* kCheckpointFormat = "outlierattack-checkpoint-1";

// Writes named_parameters() then named_buffers() of `model`, and `metadata` (a JSON object;
// its "format", if any, must be kCheckpointFormat) plus "format": kCheckpointFormat.
void save_checkpoint(const std::string& path, const nn::Module& model, const nlohmann::json& metadata);

// Copies the file's tensors into the model's existing tensors, in place, converting between
// float32 and float64 where they differ. Returns the metadata, "format" included.
// Throws, changing nothing, when the file is no checkpoint or its tensors do not fit (load_tensors).
nlohmann::json load_checkpoint(const std::string& path, nn::Module& model, bool strict = true);

// The tensors of a safetensors file (read from `path`, named in errors) into the model, in
// place, whatever its metadata: load_checkpoint's second half, and the way to load a
// torchvision state_dict saved as safetensors without our metadata. Throws, changing nothing,
// when a shape (or int64 against floating dtype) differs, and, if `strict`, when keys of the
// model are missing from the file or the file has keys the model does not know; without
// `strict` those are skipped. As PyTorch does, a missing BatchNorm "num_batches_tracked"
// (older or trimmed state_dicts lack it) is no mismatch: the counter is set to 0.
void load_tensors(const SafetensorsFile& file, const std::string& path, nn::Module& model, bool strict = true);

// The metadata alone, as load_checkpoint returns it.
nlohmann::json read_checkpoint_metadata(const std::string& path);

}  // namespace oa::io
