#pragma once
// Modules: a runtime tree of layers with named parameters and buffers.
// Names join the path with dots ("layer1.0.conv1.weight"): torchvision's state_dict keys.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Training mode (batch statistics in BatchNorm) or eval mode, for the whole subtree.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;  // BatchNorm running statistics
  std::vector<Tensor> parameters() const;
  // Freeze (false) or unfreeze every parameter: attacks freeze the model.
  void set_requires_grad(bool required);
  void zero_grad();
  // Converts every floating parameter and buffer to `dtype` (float64 for precise checks).
  void to(DType dtype);

 protected:
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void collect(const std::string& prefix, bool buffers, NamedTensors& out) const;

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Runs its children in order; they are named "0", "1", ... like torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace oa::nn
