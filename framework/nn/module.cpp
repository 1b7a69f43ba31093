#include "framework/nn/module.h"

namespace oa::nn {

Tensor Module::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (forward_hook_) forward_hook_(*this, x, y);
  return y;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::collect(const std::string& prefix, bool buffers, NamedTensors& out) const {
  for (const auto& [name, t] : buffers ? buffers_ : parameters_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (const auto& [sub, module] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, module);
  return out;
}

std::size_t Module::child_index(const std::string& name) const {
  for (std::size_t i = 0; i < children_.size(); ++i)
    if (children_[i].first == name) return i;
  throw Error(fmt::format("{}: no child named '{}'", type_name(), name));
}

Module& Module::child(const std::string& name) const { return *children_[child_index(name)].second; }

void Module::replace_child(const std::string& name, std::shared_ptr<Module> module) {
  OA_CHECK(module != nullptr, "{}: replace_child('{}') got no module", type_name(), name);
  children_[child_index(name)].second = std::move(module);
}

void Module::declare_channel_chain(ChannelChainDeclaration chain) {
  for (const std::string* name : {&chain.producer, &chain.norm, &chain.consumer}) child(*name);  // they exist
  channel_chains_.push_back(std::move(chain));
}

void Module::declare_conv_norm_pair(ConvNormDeclaration pair) {
  for (const std::string* name : {&pair.conv, &pair.norm}) child(*name);  // they exist
  conv_norm_pairs_.push_back(std::move(pair));
}

Tensor Module::buffer(const std::string& name) const {
  for (const auto& [own, t] : buffers_)
    if (own == name) return t;
  return Tensor();
}

void Module::set_buffer(const std::string& name, Tensor t) {
  for (auto& [own, existing] : buffers_)
    if (own == name) {
      existing = std::move(t);
      return;
    }
  buffers_.emplace_back(name, std::move(t));
}

void Module::set_requires_grad(bool required) {
  for (auto& t : parameters()) t.set_requires_grad(required);
}

void Module::zero_grad() {
  for (auto& t : parameters()) t.zero_grad();
}

void Module::to(DType dtype) {
  OA_CHECK(dtype != DType::Int64, "Module::to: parameters must stay floating");
  for (auto& [name, t] : named_parameters()) t.convert_(dtype);
  for (auto& [name, t] : named_buffers())
    if (t.dtype() != DType::Int64) t.convert_(dtype);  // num_batches_tracked stays int64
}

void Module::to(Device device) {
  for (auto& [name, module] : named_modules()) module->check_device(device, name);
  for (auto& [name, t] : named_parameters()) t.move_(device);
  // int64 buffers are host-side counters (BatchNorm's num_batches_tracked), read and bumped
  // by the host every training step: they stay on the CPU, where that costs no device sync.
  for (auto& [name, t] : named_buffers())
    if (t.dtype() != DType::Int64) t.move_(device);
}

Device Module::device() const {
  const auto params = parameters();
  return params.empty() ? Device::CPU : params.front().device();
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  parameters_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, t);
  return t;
}

Sequential& Sequential::add(std::shared_ptr<Module> module) {
  register_module(std::to_string(children().size()), std::move(module));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, layer] : children()) h = (*layer)(h);
  return h;
}

std::vector<ConvNormDeclaration> Sequential::conv_norm_pairs() const {
  std::vector<ConvNormDeclaration> pairs = Module::conv_norm_pairs();
  const auto& layers = children();
  for (std::size_t i = 1; i < layers.size(); ++i)
    if (layers[i - 1].second->type_name() == "Conv2d" && layers[i].second->type_name() == "BatchNorm2d") {
      const bool relu_next = i + 1 < layers.size() && layers[i + 1].second->type_name() == "ReLU";
      pairs.push_back({layers[i - 1].first, layers[i].first, relu_next ? layers[i + 1].first : ""});
    }
  return pairs;
}

}  // namespace oa::nn
