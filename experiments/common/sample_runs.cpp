#include "experiments/common/sample_runs.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "experiments/common/datasets.h"
#include "experiments/common/model_io.h"
#include "experiments/common/statistics.h"
#include "experiments/common/training.h"
#include "framework/autograd/node.h"
#include "framework/core/error.h"
#include "framework/io/atomic_file.h"
#include "framework/io/npy.h"

namespace fs = std::filesystem;

namespace oa::experiments {

namespace {

std::vector<std::int64_t> indices_in_npy(const std::string& path) {
  const Tensor t = io::read_npy(path);
  OA_CHECK(t.dtype() == DType::Int64, "--indices {}: a .npy of indices must hold int64, not {}", path,
           dtype_name(t.dtype()));
  return t.to_vector<std::int64_t>();
}

std::vector<std::int64_t> indices_in_text(const std::string& path) {
  std::ifstream in(path);
  OA_CHECK(in.good(), "--indices {}: cannot open the file", path);
  std::vector<std::int64_t> indices;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const std::string text = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    std::int64_t index = 0;
    OA_CHECK(parse_csv_field(text, index), "--indices {}: line {} is '{}', not an integer", path, number, text);
    indices.push_back(index);
  }
  return indices;
}

}  // namespace

std::vector<std::int64_t> read_indices(const std::string& path, std::int64_t split_size) {
  const bool npy = fs::path(path).extension() == ".npy";
  const auto indices = npy ? indices_in_npy(path) : indices_in_text(path);
  OA_CHECK(!indices.empty(), "--indices {}: no index in the file", path);
  std::set<std::int64_t> seen;
  for (const std::int64_t index : indices) {
    OA_CHECK(index >= 0 && index < split_size, "--indices {}: index {} is outside the split's [0, {})", path, index,
             split_size);
    OA_CHECK(seen.insert(index).second, "--indices {}: index {} is listed twice", path, index);
  }
  return indices;
}

AttackData load_attack_data(const nlohmann::json& metadata, const std::string& data_dir, const std::string& split,
                            std::int64_t n, const std::string& indices) {
  const DataChoice choice{.name = metadata.value("dataset", std::string("fashion-mnist")),
                          .dir = data_dir,
                          .labels = metadata.value("labels", std::string("true")),
                          .limit = indices.empty() ? n : 0};
  AttackData data{load_dataset(choice, split), {}};
  check_data_fits(model_config(metadata, "the checkpoint"), data.d);
  if (!indices.empty()) {
    data.samples = read_indices(indices, data.d.size());
    return data;
  }
  for (std::int64_t i = 0; i < data.d.size(); ++i) data.samples.push_back(i);
  return data;
}

void for_each_clean_batch(nn::Module& model, Device device, const data::Dataset& d,
                          const std::vector<std::int64_t>& samples, std::int64_t batch_size,
                          const std::function<bool(std::int64_t)>& pending,
                          const std::function<void(const CleanBatch&)>& body) {
  const auto count = static_cast<std::int64_t>(samples.size());
  for (std::int64_t first = 0; first < count; first += batch_size) {
    CleanBatch batch;
    for (std::int64_t k = first; k < std::min(count, first + batch_size); ++k)
      if (pending(samples[k])) batch.indices.push_back(samples[k]);
    if (batch.indices.empty()) continue;
    batch.x = data::take_rows(d.images, batch.indices);
    batch.y = data::take_rows(d.labels, batch.indices);
    Tensor logits;
    {
      NoGradGuard no_grad;
      model.eval();
      logits = model(batch.x.to(device));
    }
    batch.classes = logits.size(1);
    const auto predicted = argmax_rows(logits);
    batch.labels = batch.y.to_vector<std::int64_t>();
    for (std::size_t k = 0; k < batch.indices.size(); ++k) batch.correct.push_back(predicted[k] == batch.labels[k]);
    body(batch);
  }
}

std::vector<std::int64_t> samples_of_my_batches(const std::vector<std::int64_t>& samples, std::int64_t batch_size) {
  OA_CHECK(batch_size >= 1, "the batch size must be at least 1, got {}", batch_size);
  const auto count = static_cast<std::int64_t>(samples.size());
  const std::int64_t batches = (count + batch_size - 1) / batch_size;
  std::vector<std::int64_t> mine;
  for (const std::int64_t b : dist::shard(batches, dist::rank(), dist::world_size()))
    for (std::int64_t k = b * batch_size; k < std::min(count, (b + 1) * batch_size); ++k) mine.push_back(samples[k]);
  return mine;
}

fs::path rank_rows_path(const fs::path& dir, int rank) { return dir / fmt::format("samples.rank-{}.csv", rank); }

std::vector<fs::path> rank_rows_files(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("samples.rank-") && name.ends_with(".csv")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void remove_rank_files(const fs::path& dir) {
  if (!fs::is_directory(dir)) return;
  std::vector<fs::path> stale;  // not removed while the directory is being iterated
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().starts_with("samples.rank-")) stale.push_back(entry.path());
  for (const auto& path : stale) fs::remove(path);
}

void write_run_files(const fs::path& dir, const std::string& csv, const nlohmann::json& summary) {
  fs::create_directories(dir);
  // The summary first: a kill between the two leaves a samples.csv that always has a summary
  // beside it (earlier_summary reads the options there), at worst one batch ahead of the rows.
  io::write_file_atomic((dir / "summary.json").string(), summary.dump(2) + "\n");
  io::write_file_atomic((dir / "samples.csv").string(), csv);
}

nlohmann::json earlier_summary(const fs::path& dir, const nlohmann::json& expected, bool resume) {
  const fs::path csv = dir / "samples.csv", json = dir / "summary.json";
  if (!fs::exists(csv)) return nullptr;
  OA_CHECK(resume, "{} exists: pass --resume to continue it, or choose another --out", csv.string());
  std::ifstream in(json);
  const auto earlier = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  OA_CHECK(earlier.is_object(), "--resume: {} is missing or not JSON", json.string());
  for (const auto& [key, value] : expected.items())
    OA_CHECK(earlier.value(key, nlohmann::json()) == value,
             "--resume: {} was written with {} = {}, this run has {}; resume with the same flags or choose "
             "another --out",
             json.string(), key, earlier.value(key, nlohmann::json()).dump(), value.dump());
  return earlier;
}

nlohmann::json mean_median_json(const std::vector<double>& values) {
  const auto s = summarize(values);
  return {{"mean", s.mean}, {"median", s.median}, {"mean_ci95", {s.mean_ci_low, s.mean_ci_high}}};
}

}  // namespace oa::experiments
