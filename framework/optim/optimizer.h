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
  virtual void step() = 0;
  void zero_grad();
  // The optimiser's state (momentum buffers, Adam moments and step count) as named tensors,
  // "<kind>.<parameter index>", for checkpoints; load_state restores it (same parameters).
  virtual NamedState state() const = 0;
  virtual void load_state(const NamedState& state) = 0;
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }

 protected:
  // Appends buffers[i] as "<kind>.<i>" (defined ones only); restore_buffers reads them back.
  static void save_buffers(const std::string& kind, const std::vector<Tensor>& buffers, NamedState& out);
  void restore_buffers(const std::string& kind, std::vector<Tensor>& buffers, const NamedState& state) const;

  std::vector<Tensor> params_;
  double lr_;
};

struct SgdOptions {
  double lr = 0.1, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SgdOptions& options);
  void step() override;
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
  void step() override;
  NamedState state() const override;
  void load_state(const NamedState& state) override;

 private:
  AdamOptions options_;
  std::vector<Tensor> m_, v_;
  std::int64_t steps_ = 0;
};

}  // namespace oa::optim
