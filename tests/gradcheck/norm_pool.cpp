// Gradient checks of batch_norm2d (training and eval mode), normalize and the pooling ops.
#include "tests/gradcheck/gradcheck.h"

namespace {

using oa::Tensor;

const oa::Shape kImage{3, 2, 3, 4};  // N, C, H, W

std::vector<Tensor> requiring_grad(std::vector<Tensor> inputs) {
  for (auto& t : inputs) t.set_requires_grad();
  return inputs;
}

// batch_norm2d(x, gamma, beta) in the given mode. Each call works on fresh copies of the
// running statistics, so every evaluation of the function sees the same ones.
gradcheck::Fn batch_norm(bool training, const Tensor& running_mean, const Tensor& running_var, bool affine) {
  return [=](const std::vector<Tensor>& in) {
    Tensor mean = running_mean.clone(), var = running_var.clone();
    return oa::batch_norm2d(in[0], affine ? in[1] : Tensor(), affine ? in[2] : Tensor(), mean, var, training);
  };
}

}  // namespace

TEST_CASE("gradcheck: batch_norm2d") {
  std::mt19937 rng(40);
  const Tensor running_mean = gradcheck::uniform({2}, -0.5, 0.5, rng);
  const Tensor running_var = gradcheck::uniform({2}, 0.5, 2.0, rng);
  for (bool training : {true, false}) {
    const std::string mode = training ? "batch_norm2d train" : "batch_norm2d eval";
    // x has a non-zero mean and a non-unit spread so that the normalisation matters.
    auto in = requiring_grad({gradcheck::uniform(kImage, -1.0, 3.0, rng), gradcheck::uniform({2}, 0.5, 1.5, rng),
                              gradcheck::uniform({2}, -0.5, 0.5, rng)});
    gradcheck::check(mode, batch_norm(training, running_mean, running_var, true), in);
    gradcheck::check(mode + " without gamma and beta", batch_norm(training, running_mean, running_var, false),
                     {in[0]});
    // Frozen gamma and beta: only the input gradient (the attack setting).
    in[1].set_requires_grad(false);
    in[2].set_requires_grad(false);
    gradcheck::check(mode + ", gamma and beta frozen", batch_norm(training, running_mean, running_var, true), in);
  }
}

TEST_CASE("gradcheck: normalize") {
  std::mt19937 rng(43);
  gradcheck::check("normalize",
                   [](const std::vector<Tensor>& in) { return oa::normalize(in[0], {0.485, -0.2}, {0.229, 1.7}); },
                   requiring_grad({gradcheck::uniform(kImage, 0.0, 1.0, rng)}));
}

TEST_CASE("gradcheck: max_pool2d") {
  std::mt19937 rng(41);
  // Distinct values (0.01 apart): every window has a unique maximum.
  gradcheck::check("max_pool2d kernel 2 stride 2",
                   [](const std::vector<Tensor>& in) { return oa::max_pool2d(in[0], 2, 2); },
                   requiring_grad({gradcheck::spaced({2, 2, 6, 6}, 0.01, rng)}));
  gradcheck::check("max_pool2d kernel 3 stride 2 padding 1",
                   [](const std::vector<Tensor>& in) { return oa::max_pool2d(in[0], 3, 2, 1); },
                   requiring_grad({gradcheck::spaced({2, 2, 5, 6}, 0.01, rng)}));
}

TEST_CASE("gradcheck: avg_pool2d and global_avg_pool2d") {
  std::mt19937 rng(42);
  const struct {
    std::int64_t kernel, stride, padding;
  } cases[] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {2, 1, 0}};
  for (const auto& c : cases)
    gradcheck::check(fmt::format("avg_pool2d kernel {} stride {} padding {}", c.kernel, c.stride, c.padding),
                     [c](const std::vector<Tensor>& in) {
                       return oa::avg_pool2d(in[0], c.kernel, c.stride, c.padding);
                     },
                     requiring_grad({gradcheck::uniform({2, 2, 5, 6}, -1.0, 1.0, rng)}));
  gradcheck::check("global_avg_pool2d", [](const std::vector<Tensor>& in) { return oa::global_avg_pool2d(in[0]); },
                   requiring_grad({gradcheck::uniform({2, 3, 4, 5}, -1.0, 1.0, rng)}));
}
