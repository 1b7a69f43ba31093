#include "framework/prune/magnitude.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/prune/masks.h"

namespace oa::prune {

namespace {

// The ranking key of each weight: |w|, or -1 where the mask already prunes it (so that
// pruned weights are always among the smallest and pruning stays monotone).
std::vector<double> magnitude_keys(const PrunableLayer& layer) {
  auto keys = layer.weight.to_vector<double>();
  const Tensor mask = mask_of(layer);
  const auto kept = mask.defined() ? mask.to_vector<double>() : std::vector<double>(keys.size(), 1.0);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = kept[i] == 0.0 ? -1.0 : std::abs(keys[i]);
  return keys;
}

// The positions of the k smallest keys, exactly k of them: all keys below the k-th
// smallest value, then the first ones equal to it.
std::vector<bool> k_smallest(const std::vector<double>& keys, std::int64_t k) {
  std::vector<bool> chosen(keys.size(), false);
  if (k <= 0) return chosen;
  std::vector<double> sorted = keys;
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
  const double threshold = sorted[static_cast<std::size_t>(k - 1)];
  std::int64_t ties = k - std::count_if(keys.begin(), keys.end(), [&](double v) { return v < threshold; });
  for (std::size_t i = 0; i < keys.size(); ++i) chosen[i] = keys[i] < threshold || (keys[i] == threshold && ties-- > 0);
  return chosen;
}

std::int64_t already_pruned(const std::vector<double>& keys) { return std::count(keys.begin(), keys.end(), -1.0); }

// Writes the mask (0 where chosen) into the layer and zeroes its pruned weights.
void set_layer_mask(const PrunableLayer& layer, const std::vector<bool>& pruned, std::size_t offset) {
  std::vector<double> values(static_cast<std::size_t>(layer.weight.numel()));
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = pruned[offset + i] ? 0.0 : 1.0;
  Tensor mask = ensure_mask(layer);
  mask.copy_(Tensor::from_vector(values, mask.shape()).to(mask.dtype()).to(mask.device()));
}

}  // namespace

void magnitude_prune(nn::Module& model, const MagnitudeOptions& options) {
  OA_CHECK(options.sparsity >= 0 && options.sparsity < 1, "magnitude_prune: sparsity must be in [0, 1), got {}",
           options.sparsity);
  std::vector<PrunableLayer> layers = prunable_layers(model);
  if (options.keep_last_dense && !layers.empty()) layers.pop_back();
  if (options.keep_first_dense && !layers.empty()) layers.erase(layers.begin());
  OA_CHECK(!layers.empty(), "magnitude_prune: the model has no conv or linear layer left to prune");

  const auto target = [&](std::size_t n) { return static_cast<std::int64_t>(std::llround(options.sparsity * double(n))); };
  const auto check_monotone = [&](const std::string& what, std::int64_t pruned, std::int64_t wanted, std::size_t n) {
    OA_CHECK(pruned <= wanted, "magnitude_prune: {} already has sparsity {:.4f}, above the requested {}: masks "
             "never shrink", what, double(pruned) / double(n), options.sparsity);
  };
  if (options.scope == Scope::Layer) {
    for (const auto& layer : layers) {
      const auto keys = magnitude_keys(layer);
      const std::int64_t k = target(keys.size());
      check_monotone(layer.name, already_pruned(keys), k, keys.size());
      set_layer_mask(layer, k_smallest(keys, k), 0);
    }
  } else {
    std::vector<double> keys;
    for (const auto& layer : layers) {
      const auto layer_keys = magnitude_keys(layer);
      keys.insert(keys.end(), layer_keys.begin(), layer_keys.end());
    }
    const std::int64_t k = target(keys.size());
    check_monotone("the model", already_pruned(keys), k, keys.size());
    const auto pruned = k_smallest(keys, k);
    std::size_t offset = 0;
    for (const auto& layer : layers) {
      set_layer_mask(layer, pruned, offset);
      offset += static_cast<std::size_t>(layer.weight.numel());
    }
  }
  apply_masks(model);
}

}  // namespace oa::prune
