// The sparse execution path: CSR matrices, sparse_conv2d against conv2d, and a pruned
// ResNet rewritten by prune::to_sparse.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "framework/autograd/node.h"
#include "framework/backend/dispatch.h"
#include "framework/nn/fold_batch_norm.h"
#include "framework/nn/layers.h"
#include "framework/ops/ops.h"
#include "framework/prune/filter.h"
#include "framework/prune/magnitude.h"
#include "framework/prune/to_sparse.h"
#include "models/zoo.h"

using namespace oa;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  REQUIRE(x.size() == y.size());
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(x[i] - y[i]));
  return d;
}

// A random weight with about `sparsity` exact zeros.
Tensor sparse_weight(const Shape& shape, double sparsity, Rng& rng, DType dtype) {
  auto values = randn(shape, rng).to_vector<double>();
  const auto keep = rand_uniform(shape, rng, 0.0, 1.0).to_vector<double>();
  for (std::size_t i = 0; i < values.size(); ++i)
    if (keep[i] < sparsity) values[i] = 0.0;
  return Tensor::from_vector(values, shape).to(dtype);
}

}  // namespace

TEST_CASE("CSR: the nonzeros, in order") {
  const Tensor m = Tensor::from_vector<double>({0, 2, 0, 3, 0, 0, 0, 0, 4, 5, 0, 6}, {3, 4});
  const CsrMatrix csr = CsrMatrix::from_dense(m);
  CHECK(csr.nonzeros() == 5);
  CHECK(csr.row_start == std::vector<std::int64_t>{0, 2, 2, 5});
  CHECK(csr.col_index == std::vector<std::int32_t>{1, 3, 0, 1, 3});
  CHECK(csr.values.to_vector<double>() == std::vector<double>{2, 3, 4, 5, 6});
}

TEST_CASE("sparse_conv2d equals conv2d: forward, input and bias gradients (float64)") {
  struct Case {
    std::int64_t batch, cin, cout, size, kernel, stride, padding;
  };
  // 3x3 same-size and stride 2, 1x1 (stride 1 and the stride-2 shortcut), the 7x7/2 stem,
  // 5x5 with stride 3 and no padding (phases of unequal sizes).
  for (const Case c : {Case{2, 3, 5, 12, 3, 1, 1}, Case{9, 4, 6, 7, 3, 2, 1}, Case{7, 8, 4, 6, 1, 1, 0},
                       Case{3, 4, 6, 14, 1, 2, 0}, Case{2, 3, 4, 11, 7, 2, 3}, Case{2, 2, 3, 10, 5, 3, 0}}) {
    CAPTURE(c.batch);
    CAPTURE(c.kernel);
    Rng rng(5);
    const Tensor w = sparse_weight({c.cout, c.cin, c.kernel, c.kernel}, 0.8, rng, DType::Float64);
    Tensor b = randn({c.cout}, rng).to(DType::Float64).set_requires_grad();
    Tensor x = randn({c.batch, c.cin, c.size, c.size}, rng).to(DType::Float64).set_requires_grad();
    const Tensor projection = randn({c.batch, c.cout, (c.size + 2 * c.padding - c.kernel) / c.stride + 1,
                                     (c.size + 2 * c.padding - c.kernel) / c.stride + 1},
                                    rng)
                                  .to(DType::Float64);
    const Tensor dense = conv2d(x, w, b, c.stride, c.padding);
    sum(mul(dense, projection)).backward();
    const Tensor dense_gx = x.grad().clone(), dense_gb = b.grad().clone();
    x.zero_grad();
    b.zero_grad();
    const auto sparse_w = std::make_shared<const SparseConvWeight>(SparseConvWeight::from_dense(w));
    const Tensor sparse = sparse_conv2d(x, sparse_w, b, c.stride, c.padding);
    sum(mul(sparse, projection)).backward();
    CHECK(max_abs_diff(dense, sparse) < 1e-12);
    CHECK(max_abs_diff(dense_gx, x.grad()) < 1e-12);
    CHECK(max_abs_diff(dense_gb, b.grad()) < 1e-12);
  }
}

TEST_CASE("to_sparse swaps a 95%-pruned ResNet-20's pruned convs for SparseConv2d, with the dense logits and input "
          "gradients") {
  Rng rng(0);
  auto model = models::make_model({.name = "resnet20", .in_channels = 1, .image_size = 28, .classes = 10}, rng);
  prune::magnitude_prune(*model, {.sparsity = 0.95, .keep_first_dense = true});
  model->eval();
  model->set_requires_grad(false);
  // As the attacks load it (load_frozen_model): BN folded, the ReLUs fused into the convs,
  // which the sparse layers must keep (their kernel has no fused form: a ReLU after it).
  CHECK(nn::fold_batch_norm(*model) == 21);
  const Tensor x = rand_uniform({4, 1, 28, 28}, rng, 0.0, 1.0);
  const auto logits_and_gradient = [&] {
    Tensor input = x.clone().set_requires_grad();
    Tensor logits = (*model)(input);
    sum(logits).backward();
    return std::pair{logits.detach(), input.grad()};
  };
  const auto [dense_logits, dense_grad] = logits_and_gradient();
  const auto count_layers = [&] {
    std::size_t sparse = 0, dense = 0, dense_at_least_90 = 0;  // global pruning leaves the early layers denser
    for (const auto& [name, module] : model->named_modules()) {
      sparse += dynamic_cast<nn::SparseConv2d*>(module) != nullptr;
      if (auto* conv = dynamic_cast<nn::Conv2d*>(module)) {
        const auto w = conv->weight.to_vector<double>();
        ++dense;
        dense_at_least_90 += double(std::count(w.begin(), w.end(), 0.0)) >= 0.9 * double(w.size());
      }
    }
    return std::tuple{sparse, dense, dense_at_least_90};
  };
  const auto [sparse_before, dense_before, pruned_before] = count_layers();
  CHECK(sparse_before == 0);

  const std::size_t swapped = prune::to_sparse(*model, 0.9);
  CHECK(swapped == pruned_before);
  CHECK(swapped >= 8);
  const auto [sparse_after, dense_after, pruned_after] = count_layers();
  CHECK(sparse_after == swapped);
  CHECK(dense_after == dense_before - swapped);
  CHECK(pruned_after == 0);  // no pruned Conv2d is left behind
  CHECK(model->child("layer3").child("2").child("conv2").type_name() == "SparseConv2d");

  backend::reset_kernel_calls();
  const auto [logits, grad] = logits_and_gradient();
  CHECK(max_abs_diff(logits, dense_logits) < 1e-4);
  CHECK(max_abs_diff(grad, dense_grad) < 1e-5);
  CHECK(backend::kernel_calls("sparse_conv2d_forward") == static_cast<long>(swapped));
  CHECK(backend::kernel_calls("sparse_conv2d_backward_input") == static_cast<long>(swapped));
  CHECK(backend::kernel_calls("conv2d_relu_forward") < 10);  // some of the 10 fused convs went sparse
}

TEST_CASE("a model after to_sparse refuses training, filter pruning and the GPU, with the reason") {
  Rng rng(0);
  auto model = models::make_model({.name = "resnet20", .in_channels = 1, .image_size = 28, .classes = 10}, rng);
  prune::magnitude_prune(*model, {.sparsity = 0.95, .keep_first_dense = true});
  REQUIRE(prune::to_sparse(*model, 0.9) >= 1);
  const Tensor x = rand_uniform({2, 1, 28, 28}, rng, 0.0, 1.0);
  // The model came out of make_model in training mode: the sparse layers have no weight gradient.
  CHECK_THROWS_WITH_AS((*model)(x), doctest::Contains("not for training"), Error);
  CHECK_THROWS_WITH_AS(prune::filter_prune(*model, 0.5, {}), doctest::Contains("SparseConv2d"), Error);
  // Module::to asks every layer before it moves anything: this error is reachable without a GPU.
  std::string first_sparse;
  for (const auto& [name, module] : model->named_modules())
    if (first_sparse.empty() && dynamic_cast<nn::SparseConv2d*>(module)) first_sparse = name;
  const std::string expected = fmt::format("Module::to(cuda): layer '{}' is a SparseConv2d", first_sparse);
  CHECK_THROWS_WITH_AS(model->to(Device::CUDA), doctest::Contains(expected.c_str()), Error);
  CHECK(model->device() == Device::CPU);
  for (const auto& [name, t] : model->named_buffers()) CHECK(t.device() == Device::CPU);
  model->eval();
  NoGradGuard no_grad;
  CHECK((*model)(x).shape() == Shape{2, 10});
}

TEST_CASE("to_sparse checks its threshold and keeps a module's place in the tree") {
  Rng rng(0);
  auto model = models::make_model({.name = "resnet20", .in_channels = 1, .image_size = 28, .classes = 10}, rng);
  CHECK_THROWS_WITH_AS(prune::to_sparse(*model, 1.5), doctest::Contains("[0, 1]"), Error);
  CHECK(prune::to_sparse(*model, 0.5) == 0);  // a dense model has nothing to swap
  CHECK_THROWS_WITH_AS(model->replace_child("conv9", model->children().front().second),
                       doctest::Contains("no child named 'conv9'"), Error);
  // A threshold of 0 swaps every conv, the dense first one too; names and order stay.
  std::vector<std::string> names_before;
  for (const auto& [name, module] : model->named_modules()) names_before.push_back(name);
  CHECK(prune::to_sparse(*model, 0.0) == 21);  // the stem, 2 in each of 9 blocks, 2 shortcuts
  std::vector<std::string> names_after;
  for (const auto& [name, module] : model->named_modules()) names_after.push_back(name);
  CHECK(names_after == names_before);
  CHECK(model->child("conv1").type_name() == "SparseConv2d");
}
