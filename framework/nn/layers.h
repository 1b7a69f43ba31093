#pragma once
// The layers the ResNets are built from. Initialisation follows torchvision:
// conv weights Kaiming-normal with fan_out, linear U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
// BatchNorm gamma 1 and beta 0.
#include "framework/core/random.h"
#include "framework/nn/module.h"
#include "framework/ops/ops.h"

namespace oa::nn {

struct Conv2dOptions {
  std::int64_t in_channels, out_channels, kernel;
  std::int64_t stride = 1, padding = 0, groups = 1;
  bool bias = false;
};

class Conv2d : public Module {
 public:
  Conv2d(const Conv2dOptions& options, Rng& rng);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;  // bias undefined when options.bias is false
  Conv2dOptions options;
  // A CSR snapshot of a pruned `weight` (prune::SparseExecution sets it). While set, the
  // forward runs sparse_conv2d whenever no weight gradient is wanted (frozen weight, or no
  // gradient recorded); it must be cleared when the weight changes.
  std::shared_ptr<const SparseConvWeight> sparse_weight;
};

class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, Rng& rng, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(std::int64_t channels, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double momentum, eps;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(std::int64_t kernel, std::int64_t stride, std::int64_t padding = 0)
      : kernel_(kernel), stride_(stride), padding_(padding) {}
  Tensor forward(const Tensor& x) override;

 private:
  std::int64_t kernel_, stride_, padding_;
};

class GlobalAvgPool2d : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// [N, ...] -> [N, rest]
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

}  // namespace oa::nn
