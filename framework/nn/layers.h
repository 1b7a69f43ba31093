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
  // The output goes through a ReLU inside the convolution (ops conv2d_relu): what
  // nn::fold_batch_norm makes of conv -> BN -> ReLU in a frozen model.
  bool relu = false;
};

class Conv2d : public Module {
 public:
  Conv2d(const Conv2dOptions& options, Rng& rng);
  // A conv with these weights ([C_out, C_in/groups, k, k]) and bias (undefined: none).
  Conv2d(const Conv2dOptions& options, Tensor weight, Tensor bias);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  Tensor weight, bias;  // bias undefined when options.bias is false
  Conv2dOptions options;
};

// A groups-1 convolution whose pruned weight is a constant CSR matrix (ops sparse_conv2d):
// the forward and the input gradient skip the zero weights. It is for frozen models
// (evaluation, attacks): the weight has no gradient, so the layer refuses to run in training
// mode, and it runs on the CPU only (moving it to the GPU throws). prune::to_sparse swaps
// pruned Conv2d layers for these; the bias, if any, stays a parameter and has its gradient.
class SparseConv2d : public Module {
 public:
  explicit SparseConv2d(const Conv2d& dense);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SparseConv2d"; }
  std::shared_ptr<const SparseConvWeight> weight;
  Tensor bias;
  Conv2dOptions options;

 protected:
  void check_device(Device device, const std::string& path) const override;
};

class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, Rng& rng, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  Tensor weight, bias;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(std::int64_t channels, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNorm2d"; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double momentum, eps;
};

// y = x: what nn::fold_batch_norm leaves in the place of a folded BatchNorm.
class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(std::int64_t kernel, std::int64_t stride, std::int64_t padding = 0)
      : kernel_(kernel), stride_(stride), padding_(padding) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }

 private:
  std::int64_t kernel_, stride_, padding_;
};

class GlobalAvgPool2d : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GlobalAvgPool2d"; }
};

// Per-channel input standardisation, (x - mean[c]) / std[c] (ops normalize), as the first
// layer of a model: the model then takes pixels in [0, 1], so attacks keep working in the
// pixel box while the weights see the statistics they were trained on. Constants, not
// parameters or buffers: the checkpoint keeps them in its metadata (experiments/common/model_io.h),
// so the tensor names stay torchvision's.
class Normalize : public Module {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Normalize"; }
  const std::vector<double> mean, std;
};

// The per-channel mean and standard deviation of ImageNet's RGB pixels that torchvision's
// pretrained models expect (torchvision.transforms.Normalize in their evaluation transform).
inline const std::vector<double> kImageNetMean{0.485, 0.456, 0.406};
inline const std::vector<double> kImageNetStd{0.229, 0.224, 0.225};

// [N, ...] -> [N, rest]
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }
};

}  // namespace oa::nn
