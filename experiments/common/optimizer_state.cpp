#include "experiments/common/optimizer_state.h"

#include "framework/core/error.h"
#include "framework/io/safetensors.h"

namespace fs = std::filesystem;

namespace oa::experiments {

namespace {

constexpr const char* kPrefix = "optimizer-";
constexpr const char* kSuffix = ".safetensors";

fs::path optimizer_state_path(const fs::path& dir, const std::string& stamp) {
  return dir / (kPrefix + stamp + kSuffix);
}

}  // namespace

void save_with_optimizer_state(const fs::path& dir, const std::string& stamp, const optim::Optimizer& optimizer,
                               const std::function<void()>& write_checkpoint) {
  const fs::path kept = optimizer_state_path(dir, stamp);
  io::write_safetensors(kept.string(), optimizer.state(), {{"stamp", stamp}});
  write_checkpoint();
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path() != kept && name.starts_with(kPrefix) && name.ends_with(kSuffix)) fs::remove(entry.path());
  }
}

void load_optimizer_state(const fs::path& dir, const std::string& stamp, optim::Optimizer& optimizer,
                          const fs::path& checkpoint) {
  const fs::path path = optimizer_state_path(dir, stamp);
  OA_CHECK(fs::exists(path), "{} names progress {}, but its optimiser state {} is missing: remove {} to restart",
           checkpoint.string(), stamp, path.string(), dir.string());
  const auto file = io::read_safetensors(path.string());
  OA_CHECK(file.metadata.count("stamp") && file.metadata.at("stamp") == stamp,
           "{}: holds the optimiser state of progress {}, not {} (its file name)", path.string(),
           file.metadata.count("stamp") ? file.metadata.at("stamp") : std::string("?"), stamp);
  optimizer.load_state(file.tensors);
}

}  // namespace oa::experiments
