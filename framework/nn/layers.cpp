#include "framework/nn/layers.h"

#include <cmath>

#include "framework/ops/ops.h"

namespace oa::nn {

Conv2d::Conv2d(const Conv2dOptions& opts, Rng& rng) : options(opts) {
  OA_CHECK(opts.in_channels % opts.groups == 0 && opts.out_channels % opts.groups == 0,
           "Conv2d: {} in / {} out channels are not divisible by {} groups", opts.in_channels, opts.out_channels,
           opts.groups);
  // Kaiming normal, mode fan_out, for ReLU: std = sqrt(2 / (out_channels * k * k)).
  const double fan_out = static_cast<double>(opts.out_channels * opts.kernel * opts.kernel);
  weight = register_parameter(
      "weight", randn({opts.out_channels, opts.in_channels / opts.groups, opts.kernel, opts.kernel}, rng,
                      std::sqrt(2.0 / fan_out)));
  if (opts.bias) bias = register_parameter("bias", Tensor::zeros({opts.out_channels}));
}

Conv2d::Conv2d(const Conv2dOptions& opts, Tensor w, Tensor b) : options(opts) {
  const Shape expected{opts.out_channels, opts.in_channels / opts.groups, opts.kernel, opts.kernel};
  OA_CHECK(w.shape() == expected, "Conv2d: the weight is {}, the options need [{}]", describe(w), fmt::join(expected, ", "));
  OA_CHECK(opts.bias == b.defined(), "Conv2d: options.bias is {} but a bias was{} given", opts.bias,
           b.defined() ? "" : " not");
  weight = register_parameter("weight", std::move(w));
  if (b.defined()) bias = register_parameter("bias", std::move(b));
}

Tensor Conv2d::forward(const Tensor& x) {
  if (options.relu) return conv2d_relu(x, weight, bias, options.stride, options.padding, options.groups);
  return conv2d(x, weight, bias, options.stride, options.padding, options.groups);
}

SparseConv2d::SparseConv2d(const Conv2d& dense)
    : weight(std::make_shared<const SparseConvWeight>(SparseConvWeight::from_dense(dense.weight))),
      options(dense.options) {
  OA_CHECK(options.groups == 1, "SparseConv2d: only groups 1, the conv has {} groups", options.groups);
  OA_CHECK(dense.weight.device() == Device::CPU, "SparseConv2d: the sparse path runs on the CPU only, the weight "
           "is on {}", device_name(dense.weight.device()));
  if (dense.bias.defined()) {
    const bool wants_gradient = dense.bias.requires_grad();
    bias = register_parameter("bias", dense.bias);
    bias.set_requires_grad(wants_gradient);  // a frozen bias stays frozen
  }
  train(dense.training());
}

Tensor SparseConv2d::forward(const Tensor& x) {
  OA_CHECK(!training(), "SparseConv2d {}: its weight has no gradient, it is for frozen models in eval mode "
           "(evaluation, attacks), not for training; train the dense model", fmt::join(weight->shape, "x"));
  const Tensor y = sparse_conv2d(x, weight, bias, options.stride, options.padding);
  return options.relu ? relu(y) : y;  // the sparse kernel has no fused ReLU
}

void SparseConv2d::check_device(Device device, const std::string& path) const {
  OA_CHECK(device == Device::CPU, "Module::to({}): layer '{}' is a SparseConv2d (prune::to_sparse), which runs on "
           "the CPU only; move the dense model to {} instead", device_name(device), path, device_name(device));
}

Linear::Linear(std::int64_t in_features, std::int64_t out_features, Rng& rng, bool with_bias) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight = register_parameter("weight", rand_uniform({out_features, in_features}, rng, -bound, bound));
  if (with_bias) bias = register_parameter("bias", rand_uniform({out_features}, rng, -bound, bound));
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

BatchNorm2d::BatchNorm2d(std::int64_t channels, double momentum_, double eps_) : momentum(momentum_), eps(eps_) {
  weight = register_parameter("weight", Tensor::ones({channels}));
  bias = register_parameter("bias", Tensor::zeros({channels}));
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var = register_buffer("running_var", Tensor::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::Int64));
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (training()) num_batches_tracked.fill_(num_batches_tracked.item() + 1);
  return batch_norm2d(x, weight, bias, running_mean, running_var, training(), momentum, eps);
}

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel_, stride_, padding_); }
Tensor GlobalAvgPool2d::forward(const Tensor& x) { return global_avg_pool2d(x); }
Normalize::Normalize(std::vector<double> mean_, std::vector<double> std_) : mean(std::move(mean_)), std(std::move(std_)) {
  OA_CHECK(!mean.empty() && mean.size() == std.size(), "Normalize: mean has {} and std {} entries; need one per channel",
           mean.size(), std.size());
  for (double s : std) OA_CHECK(s > 0.0 && std::isfinite(s), "Normalize: std must be positive and finite, got {}", std);
  for (double m : mean) OA_CHECK(std::isfinite(m), "Normalize: mean must be finite, got {}", mean);
}

Tensor Normalize::forward(const Tensor& x) { return normalize(x, mean, std); }
Tensor Flatten::forward(const Tensor& x) { return x.flatten(1); }

}  // namespace oa::nn
