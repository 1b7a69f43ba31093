#include "framework/prune/filter.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "framework/prune/masks.h"

namespace oa::prune {

namespace {

// The slices `keep` of t along `dim` (0 or 1), as a new tensor of t's dtype and device.
Tensor take_slices(const Tensor& t, int dim, const std::vector<std::int64_t>& keep) {
  const Shape& s = t.shape();
  const std::int64_t outer = dim == 0 ? 1 : s[0], n = s[dim];
  const std::int64_t inner = t.numel() / (outer * n);
  const auto values = t.to_vector<double>();
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(outer * inner) * keep.size());
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t k : keep) {
      const auto first = values.begin() + (o * n + k) * inner;
      out.insert(out.end(), first, first + inner);
    }
  Shape shape = s;
  shape[static_cast<std::size_t>(dim)] = static_cast<std::int64_t>(keep.size());
  return Tensor::from_vector(out, shape).to(t.dtype()).to(t.device());
}

void shrink(Tensor& t, int dim, const std::vector<std::int64_t>& keep) {
  if (t.defined()) t.assign_(take_slices(t, dim, keep));
}

// Keeps the channels `keep` (ascending) of the chain: producer filters (and their mask and
// bias), the BatchNorm's entries, the consumer's input channels (and their mask).
void shrink_chain(const ChannelChain& chain, const std::vector<std::int64_t>& keep) {
  shrink(chain.producer->weight, 0, keep);
  shrink(chain.producer->bias, 0, keep);
  if (Tensor mask = mask_of(*chain.producer); mask.defined()) shrink(mask, 0, keep);
  chain.producer->options.out_channels = static_cast<std::int64_t>(keep.size());
  for (Tensor* t : {&chain.norm->weight, &chain.norm->bias, &chain.norm->running_mean, &chain.norm->running_var})
    shrink(*t, 0, keep);
  shrink(chain.consumer->weight, 1, keep);
  if (Tensor mask = mask_of(*chain.consumer); mask.defined()) shrink(mask, 1, keep);
  chain.consumer->options.in_channels = static_cast<std::int64_t>(keep.size());
}

}  // namespace

std::vector<ChannelChain> channel_chains(nn::Module& model) {
  std::vector<ChannelChain> chains;
  for (auto& [path, module] : model.named_modules())
    for (const auto& declared : module->declared_channel_chains()) {
      const std::string name = path.empty() ? declared.producer : path + "." + declared.producer;
      auto* producer = dynamic_cast<nn::Conv2d*>(&module->child(declared.producer));
      auto* norm = dynamic_cast<nn::BatchNorm2d*>(&module->child(declared.norm));
      auto* consumer = dynamic_cast<nn::Conv2d*>(&module->child(declared.consumer));
      OA_CHECK(producer && norm && consumer && producer->options.groups == 1 && consumer->options.groups == 1,
               "channel chain {} -> {} -> {} of '{}': expected a Conv2d, a BatchNorm2d and a Conv2d with groups 1, "
               "found {}, {} and {}", declared.producer, declared.norm, declared.consumer, path,
               module->child(declared.producer).type_name(), module->child(declared.norm).type_name(),
               module->child(declared.consumer).type_name());
      chains.push_back({name, producer, norm, consumer});
    }
  return chains;
}

std::map<std::string, std::int64_t> chain_widths(nn::Module& model) {
  std::map<std::string, std::int64_t> widths;
  for (const auto& chain : channel_chains(model)) widths[chain.name] = chain.channels();
  return widths;
}

void filter_prune(nn::Module& model, double fraction, const std::map<std::string, std::int64_t>& original) {
  OA_CHECK(fraction >= 0 && fraction < 1, "filter_prune: the fraction of channels must be in [0, 1), got {}",
           fraction);
  const auto chains = channel_chains(model);
  OA_CHECK(!chains.empty(), "filter_prune: the model ({}) declares no conv -> BatchNorm -> conv chains; only a "
           "model whose builder declares its channel chains (the ResNets' residual blocks) can be filter-pruned",
           model.type_name());
  for (const auto& chain : chains) {
    const auto it = original.find(chain.name);
    OA_CHECK(it != original.end(), "filter_prune: no original width for {}", chain.name);
    const auto keep_count = std::max<std::int64_t>(1, std::llround((1.0 - fraction) * double(it->second)));
    OA_CHECK(keep_count <= chain.channels(), "filter_prune: {} has {} channels, {} would need {}: channels never "
             "grow back", chain.name, chain.channels(), fraction, keep_count);
    // L1 norm of each filter of the producer; the largest keep_count are kept, in order.
    const Tensor& w = chain.producer->weight;
    const auto values = w.to_vector<double>();
    const std::int64_t per_filter = w.numel() / w.size(0);
    std::vector<double> norms(static_cast<std::size_t>(w.size(0)), 0.0);
    for (std::size_t k = 0; k < values.size(); ++k) norms[k / per_filter] += std::abs(values[k]);
    std::vector<std::int64_t> order(norms.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return norms[a] > norms[b]; });
    order.resize(static_cast<std::size_t>(keep_count));
    std::sort(order.begin(), order.end());
    shrink_chain(chain, order);
  }
}

void resize_chains(nn::Module& model, const std::map<std::string, std::int64_t>& widths) {
  const auto chains = channel_chains(model);
  for (const auto& [name, width] : widths) {
    const auto it = std::ranges::find(chains, name, &ChannelChain::name);
    OA_CHECK(it != chains.end(), "resize_chains: the model has no channel chain named '{}'", name);
    OA_CHECK(width >= 1 && width <= it->channels(), "resize_chains: {} has {} channels, cannot hold {}", name,
             it->channels(), width);
    std::vector<std::int64_t> first(static_cast<std::size_t>(width));
    std::iota(first.begin(), first.end(), 0);
    shrink_chain(*it, first);
  }
}

}  // namespace oa::prune
