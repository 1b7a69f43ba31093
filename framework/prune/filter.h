#pragma once
// Structured filter pruning (Li et al. 2017, "Pruning Filters for Efficient ConvNets"):
// whole output channels are removed, and the layers really shrink.
//
// A channel can be removed where a conv's output goes only through its BatchNorm into the
// next conv: inside a residual block, conv{i} -> bn{i} -> ReLU -> conv{i+1}. Removing channel
// k deletes filter k of conv{i}, entry k of bn{i} and input channel k of conv{i+1}. (The
// block outputs are tied to the shortcut, so they keep their width.) Which chains exist is
// the model's word: its builder declares them (nn::Module::declare_channel_chain; the ResNet
// blocks do), and a model that declares none cannot be filter-pruned.
// Channels are ranked by the L1 norm of their filter in conv{i}; the smallest go.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "framework/nn/layers.h"

namespace oa::prune {

struct ChannelChain {
  std::string name;  // the producing conv's name, "layer1.0.conv1"
  nn::Conv2d* producer;
  nn::BatchNorm2d* norm;
  nn::Conv2d* consumer;
  std::int64_t channels() const { return producer->weight.size(0); }
};

// Every chain the model's modules declare, in model order (none when none are declared).
std::vector<ChannelChain> channel_chains(nn::Module& model);

// Channels per chain, by name: what a filter-pruned checkpoint records in its metadata.
std::map<std::string, std::int64_t> chain_widths(nn::Module& model);

// Removes, from every chain, the filters of smallest L1 norm until it keeps
// round((1 - fraction) * original[name]) channels (at least 1). `original` holds the widths
// the fraction refers to (the dense model's, chain_widths of it); a ladder passes the same
// map at every rung. Throws when a chain would have to grow back.
void filter_prune(nn::Module& model, double fraction, const std::map<std::string, std::int64_t>& original);

// Shrinks every named chain to the given width, keeping its first channels: gives a freshly
// built model the shape of a filter-pruned checkpoint before its weights are loaded.
void resize_chains(nn::Module& model, const std::map<std::string, std::int64_t>& widths);

}  // namespace oa::prune
