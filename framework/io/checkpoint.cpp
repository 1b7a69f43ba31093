#include "framework/io/checkpoint.h"

#include <algorithm>
#include <map>
#include <vector>

namespace oa::io {

namespace {

// The parameters, then the buffers.
nn::NamedTensors state_of(const nn::Module& model) {
  nn::NamedTensors out = model.named_parameters();
  for (auto& buffer : model.named_buffers()) out.push_back(std::move(buffer));
  return out;
}

// "'a', 'b' and 3 more": at most 10 names, for an error message.
std::string name_list(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 10;
  const auto shown = names.begin() + static_cast<std::ptrdiff_t>(std::min(names.size(), kShown));
  std::string out = fmt::format("'{}'", fmt::join(names.begin(), shown, "', '"));
  if (names.size() > kShown) out += fmt::format(" and {} more", names.size() - kShown);
  return out;
}

// The "__metadata__" strings as JSON, after checking the "format" mark.
nlohmann::json metadata_json(const std::map<std::string, std::string>& fields, const std::string& path,
                             const char* caller) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, text] : fields) {
    nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    out[key] = value.is_discarded() ? nlohmann::json(text) : std::move(value);
  }
  OA_CHECK(out.contains("format") && out["format"] == kCheckpointFormat,
           "{}: {}: not a checkpoint: the metadata \"format\" is {}, not \"{}\" (torchvision weights are converted by "
           "tools/torchvision_to_safetensors.py, or loaded as they are with the run_* flag --arch)",
           caller, path, out.contains("format") ? out["format"].dump() : "missing", kCheckpointFormat);
  return out;
}

}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const nlohmann::json& metadata) {
  OA_CHECK(metadata.is_object() || metadata.is_null(), "save_checkpoint: {}: the metadata must be a JSON object, not {}",
           path, metadata.type_name());
  std::map<std::string, std::string> fields;
  // Plain strings are stored as they are, unless the text would read back as another JSON
  // value ("true", "42"): those, like every non-string value, are stored as JSON text.
  for (const auto& [key, value] : metadata.items())
    fields[key] = value.is_string() && !nlohmann::json::accept(value.get<std::string>()) ? value.get<std::string>()
                                                                                          : value.dump();
  const auto [format, added] = fields.try_emplace("format", kCheckpointFormat);
  OA_CHECK(format->second == kCheckpointFormat, "save_checkpoint: {}: the metadata \"format\" must be \"{}\", not \"{}\"",
           path, kCheckpointFormat, format->second);
  write_safetensors(path, state_of(model), fields);
}

nlohmann::json load_checkpoint(const std::string& path, nn::Module& model, bool strict) {
  const SafetensorsFile file = read_safetensors(path);
  nlohmann::json metadata = metadata_json(file.metadata, path, "load_checkpoint");
  load_tensors(file, path, model, strict);
  return metadata;
}

void load_tensors(const SafetensorsFile& file, const std::string& path, nn::Module& model, bool strict) {
  // Match the model's tensors with the file's; nothing is copied until all of them fit.
  std::map<std::string, Tensor> unexpected(file.tensors.begin(), file.tensors.end());
  std::vector<std::string> missing;
  std::vector<std::pair<Tensor, Tensor>> copies;  // (into the model, from the file)
  std::vector<Tensor> counters_to_zero;           // missing num_batches_tracked
  for (const auto& [name, target] : state_of(model)) {
    const auto found = unexpected.find(name);
    if (found == unexpected.end()) {
      if (name.ends_with("num_batches_tracked"))
        counters_to_zero.push_back(target);
      else
        missing.push_back(name);
      continue;
    }
    const Tensor& source = found->second;
    OA_CHECK(source.shape() == target.shape(), "loading {}: '{}' has shape {} in the file but {} in the model",
             path, name, shape_str(source.shape()), shape_str(target.shape()));
    OA_CHECK((source.dtype() == DType::Int64) == (target.dtype() == DType::Int64),
             "loading {}: '{}' is {} in the file but {} in the model", path, name, dtype_name(source.dtype()),
             dtype_name(target.dtype()));
    copies.emplace_back(target, source);
    unexpected.erase(found);
  }
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::vector<std::string> unexpected_names;
    for (const auto& [name, t] : unexpected) unexpected_names.push_back(name);
    std::vector<std::string> problems;
    if (!missing.empty()) problems.push_back(fmt::format("{} model keys missing from the file: {}", missing.size(), name_list(missing)));
    if (!unexpected.empty())
      problems.push_back(fmt::format("{} unexpected keys in the file: {}", unexpected.size(), name_list(unexpected_names)));
    throw Error(fmt::format("loading {}: the file does not match the model: {}", path,
                            fmt::join(problems, "; ")));
  }

  for (auto& [target, source] : copies) target.copy_(source);
  for (auto& counter : counters_to_zero) counter.fill_(0);
}

nlohmann::json read_checkpoint_metadata(const std::string& path) {
  return metadata_json(read_safetensors_metadata(path), path, "read_checkpoint_metadata");
}

}  // namespace oa::io
