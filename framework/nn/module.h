#pragma once
// Modules: a runtime tree of layers with named parameters and buffers.
// Names join the path with dots ("layer1.0.conv1.weight"): torchvision's state_dict keys.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// A channel chain a model declares for filter pruning (prune/filter.h): the output channels of
// the conv `producer` go only through the BatchNorm `norm` into the conv `consumer`, so channel k
// can be removed from all three at once. The names are those of direct children of the module
// that declares the chain.
struct ChannelChainDeclaration {
  std::string producer, norm, consumer;
};

// A conv child whose output goes only into the BatchNorm child `norm`, so that in eval mode
// the two fold into one conv (nn::fold_batch_norm); and, when `relu` names one, the ReLU child
// that the norm's output goes through next, which then runs inside that conv. Names of direct
// children, as above.
struct ConvNormDeclaration {
  std::string conv, norm;
  std::string relu = "";
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  // What the layer is ("Conv2d", "SparseConv2d", "ResNet"), for messages.
  virtual std::string type_name() const { return "Module"; }
  // Runs forward, then the forward hook if one is set. Models call their children through
  // operator(), so hooks see every layer (capacity accounting uses them for FLOPs).
  Tensor operator()(const Tensor& x);
  using ForwardHook = std::function<void(Module& module, const Tensor& input, const Tensor& output)>;
  void set_forward_hook(ForwardHook hook) { forward_hook_ = std::move(hook); }

  // Training mode (batch statistics in BatchNorm) or eval mode, for the whole subtree.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;  // BatchNorm running statistics
  std::vector<Tensor> parameters() const;
  // Every module of the tree, this one first (name ""), then depth-first with dotted names.
  std::vector<std::pair<std::string, Module*>> named_modules();
  // The direct children, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // The direct child `name`. Models call their children through it (as PyTorch's self.conv1
  // reads self._modules), so a child swapped by replace_child is the one that runs.
  Module& child(const std::string& name) const;
  // Puts `module` in the place of the direct child `name`: the step of module-tree
  // transformations (prune::to_sparse swaps pruned Conv2d layers for SparseConv2d ones).
  void replace_child(const std::string& name, std::shared_ptr<Module> module);
  // The channel chains this module declares (not its children's); prune/filter.h collects them.
  const std::vector<ChannelChainDeclaration>& declared_channel_chains() const { return channel_chains_; }
  // The conv -> BatchNorm pairs among this module's children (not its children's): those it
  // declares; a Sequential finds its own (a Conv2d right before a BatchNorm2d, and a ReLU
  // right after it).
  virtual std::vector<ConvNormDeclaration> conv_norm_pairs() const { return conv_norm_pairs_; }
  // This module's own buffer `name` (not its children's); undefined when it has none.
  Tensor buffer(const std::string& name) const;
  // Adds buffer `name` to this module, or replaces the one of that name (pruning adds masks).
  void set_buffer(const std::string& name, Tensor t);
  // Freeze (false) or unfreeze every parameter: attacks freeze the model.
  void set_requires_grad(bool required);
  void zero_grad();
  // Converts every floating parameter and buffer to `dtype` (float64 for precise checks).
  void to(DType dtype);
  // Moves every parameter and floating buffer to `device` (Device::CUDA: the GPU). Every
  // module of the tree is asked first (check_device), so a layer that cannot run there stops
  // the move before anything has moved.
  void to(Device device);
  // The device of the parameters (CPU for a module without any).
  Device device() const;

 protected:
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }
  // Declares a prunable channel chain among this module's children (the ResNet blocks do).
  void declare_channel_chain(ChannelChainDeclaration chain);
  // Declares that the conv child `conv` feeds only the BatchNorm child `norm`, and that one
  // into the ReLU child `relu` if named (the ResNets do).
  void declare_conv_norm_pair(ConvNormDeclaration pair);
  // Throws, naming the layer by its `path` in the tree, when this layer cannot run on `device`.
  // Layers whose state lives outside parameters and buffers override it (SparseConv2d).
  virtual void check_device(Device /*device*/, const std::string& /*path*/) const {}

 private:
  void collect(const std::string& prefix, bool buffers, NamedTensors& out) const;
  std::size_t child_index(const std::string& name) const;  // throws when there is none

  ForwardHook forward_hook_;
  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<ChannelChainDeclaration> channel_chains_;
  std::vector<ConvNormDeclaration> conv_norm_pairs_;
  bool training_ = true;
};

// Runs its children in order; they are named "0", "1", ... like torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  std::vector<ConvNormDeclaration> conv_norm_pairs() const override;
};

}  // namespace oa::nn
