#pragma once
// Optimisers update parameters in place from their .grad (parameters without a gradient
// are skipped). State (momentum, Adam moments) is created on the first step.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::optim {

using NamedState = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  // One update of every parameter that has a gradient. Parameters with a pruning mask have
  // their gradient masked before the update and their weights after it, so pruned weights
  // stay exactly zero: neither momentum nor weight decay can revive them.
  void step();
  void zero_grad();
  // masks[i]: 0/1 of parameter i's shape (framework/prune), or undefined for a dense one.
  void set_masks(std::vector<Tensor> masks);
  // The optimiser's state (momentum buffers, Adam moments and step count) as named tensors,
  // "<kind>.<parameter index>", for checkpoints; load_state restores it (same parameters).
  virtual NamedState state() const = 0;
  virtual void load_state(const NamedState& state) = 0;
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }

 protected:
  // Appends buffers[i] as "<kind>.<i>" (defined ones only); restore_buffers reads them back.
  virtual void update() = 0;  // the optimiser's own rule, on the (masked) gradients
  static void save_buffers(const std::string& kind, const std::vector<Tensor>& buffers, NamedState& out);
  void restore_buffers(const std::string& kind, std::vector<Tensor>& buffers, const NamedState& state) const;

  std::vector<Tensor> params_;
  std::vector<Tensor> masks_;  // empty, or one per parameter (undefined: dense)
  double lr_;
};

struct SgdOptions {
  double lr = 0.1, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SgdOptions& options);
  void update() override;
  NamedState state() const override;
  void load_state(const NamedState& state) override;

 private:
  SgdOptions options_;
  std::vector<Tensor> momentum_buffers_;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options);
  void update() override;
  NamedState state() const override;
  void load_state(const NamedState& state) override;

 private:
  AdamOptions options_;
  std::vector<Tensor> m_, v_;
  std::int64_t steps_ = 0;
};

}  // namespace oa::optim
