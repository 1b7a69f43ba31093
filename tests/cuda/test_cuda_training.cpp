// Whole computations on the GPU against the same on the CPU: optimiser steps, a ResNet-20
// training step, ResNet-50 logits and input gradients, and attacks on a model moved to CUDA.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <tuple>

#include <fmt/format.h>

#include "attacks/cw_l2.h"
#include "attacks/cw_linf.h"
#include "attacks/ddn.h"
#include "attacks/fmn.h"
#include "attacks/pgd.h"
#include "framework/backend/dispatch.h"
#include "framework/optim/optimizer.h"
#include "models/zoo.h"
#include "tests/attacks/test_models.h"
#include "tests/cuda/cuda_compare.h"

using namespace cuda_test;
using oa::nn::Module;

namespace {

// How one pair of tensors is compared: element by element, or as whole tensors (models; only
// failures are printed, there are hundreds of tensors).
using Compare = std::function<void(const std::string& what, const Tensor& cuda, const Tensor& cpu, Quantity q)>;
const Compare kElementwise = [](const std::string& what, const Tensor& cuda, const Tensor& cpu, Quantity) {
  expect_close(what, cuda, cpu);
};
const Compare kWholeTensor = [](const std::string& what, const Tensor& cuda, const Tensor& cpu, Quantity q) {
  expect_close_l2(what, cuda, cpu, q, false);
};

// Every parameter, its gradient where it has one, and every buffer of two copies of a model.
void compare_state(const std::string& what, const Module& cuda, const Module& cpu, const Compare& compare) {
  const auto params = cuda.named_parameters(), cpu_params = cpu.named_parameters();
  const auto buffers = cuda.named_buffers(), cpu_buffers = cpu.named_buffers();
  REQUIRE(params.size() == cpu_params.size());
  REQUIRE(buffers.size() == cpu_buffers.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& [name, p] = params[i];
    REQUIRE(name == cpu_params[i].first);
    compare(what + ": " + name, p, cpu_params[i].second, Quantity::Step);
    if (cpu_params[i].second.grad().defined())
      compare(what + ": gradient of " + name, p.grad(), cpu_params[i].second.grad(), Quantity::Gradient);
  }
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    REQUIRE(buffers[i].first == cpu_buffers[i].first);
    compare(what + ": " + buffers[i].first, buffers[i].second, cpu_buffers[i].second, Quantity::Forward);
  }
}

// Builds the same model twice (same seed), in `dtype`: one stays on the CPU, one moves to CUDA.
struct ModelPair {
  std::shared_ptr<Module> cpu, cuda;
};
ModelPair model_pair(const std::function<std::shared_ptr<Module>()>& make, DType dtype) {
  ModelPair pair{make(), make()};
  pair.cpu->to(dtype);
  pair.cuda->to(dtype);
  pair.cuda->to(Device::CUDA);
  return pair;
}

std::shared_ptr<Module> zoo_model(const std::string& name, std::int64_t channels, std::int64_t size,
                                  std::int64_t classes) {
  oa::Rng rng(0);
  return oa::models::make_model({.name = name, .in_channels = channels, .image_size = size, .classes = classes}, rng);
}

// One training step in train mode: logits, cross-entropy, backward, optimiser step.
struct StepResult {
  Tensor logits, loss;
};
StepResult train_step(Module& model, oa::optim::Optimizer& optimizer, const Tensor& x, const Tensor& y) {
  model.train();
  optimizer.zero_grad();
  const Tensor logits = model(x);
  const Tensor loss = oa::cross_entropy(logits, y);
  loss.backward();
  optimizer.step();
  return {logits.detach(), loss.detach()};
}

using MakeOptimizer = std::function<std::unique_ptr<oa::optim::Optimizer>(std::vector<Tensor>)>;

}  // namespace

TEST_CASE("cuda optimisers: SGD (momentum, nesterov, weight decay) and Adam steps give the CPU's parameters") {
  using oa::optim::Adam, oa::optim::AdamOptions, oa::optim::SGD, oa::optim::SgdOptions;
  const std::pair<const char*, MakeOptimizer> optimizers[] = {
      {"SGD", [](auto p) { return std::make_unique<SGD>(p, SgdOptions{.lr = 0.1}); }},
      {"SGD momentum 0.9", [](auto p) { return std::make_unique<SGD>(p, SgdOptions{.lr = 0.1, .momentum = 0.9}); }},
      {"SGD nesterov momentum 0.9 weight decay 5e-4",
       [](auto p) {
         return std::make_unique<SGD>(p, SgdOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true});
       }},
      {"Adam", [](auto p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 1e-2}); }},
      {"Adam weight decay 1e-2",
       [](auto p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 1e-2, .weight_decay = 1e-2}); }},
  };
  for (DType dt : kFloatTypes)
    for (const auto& [name, make_optimizer] : optimizers) {
      const ModelPair models = model_pair([] { return small_model(3); }, dt);
      const auto cpu_opt = make_optimizer(models.cpu->parameters());
      const auto cuda_opt = make_optimizer(models.cuda->parameters());
      oa::Rng rng(31);
      const Tensor x = constant({4, 2, 6, 6}, dt, rng), y = labels(4, 3, rng);
      for (int step = 1; step <= 3; ++step) {
        const std::string what = tag(fmt::format("{} step {}", name, step), dt);
        const StepResult cpu = train_step(*models.cpu, *cpu_opt, x, y);
        const StepResult cuda = train_step(*models.cuda, *cuda_opt, x.to(Device::CUDA), y.to(Device::CUDA));
        expect_close(what + ": loss", cuda.loss, cpu.loss);
        compare_state(what, *models.cuda, *models.cpu, kElementwise);
      }
    }
}

TEST_CASE("cuda ResNet-20 (1x28x28, 10 classes) in train mode: one SGD step gives the CPU's loss and parameters") {
  for (DType dt : kFloatTypes) {
    const ModelPair models = model_pair([] { return zoo_model("resnet20", 1, 28, 10); }, dt);
    const oa::optim::SgdOptions options{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true};
    oa::optim::SGD cpu_sgd(models.cpu->parameters(), options), cuda_sgd(models.cuda->parameters(), options);
    oa::Rng rng(32);
    const Tensor x = constant({8, 1, 28, 28}, dt, rng, 0, 1), y = labels(8, 10, rng);
    const StepResult cpu = train_step(*models.cpu, cpu_sgd, x, y);
    const StepResult cuda = train_step(*models.cuda, cuda_sgd, x.to(Device::CUDA), y.to(Device::CUDA));
    expect_close_l2(tag("ResNet-20 logits", dt), cuda.logits, cpu.logits, Quantity::Forward);
    expect_close_l2(tag("ResNet-20 loss", dt), cuda.loss, cpu.loss, Quantity::Forward);
    compare_state(tag("ResNet-20 after one SGD step", dt), *models.cuda, *models.cpu, kWholeTensor);
  }
}

TEST_CASE("cuda ResNet-50 (3x224x224, batch 2) in eval mode with frozen weights: the CPU's logits and input gradient") {
  for (DType dt : kFloatTypes) {
    const ModelPair models = model_pair([] { return zoo_model("resnet50", 3, 224, 1000); }, dt);
    oa::Rng rng(33);
    const Tensor x = constant({2, 3, 224, 224}, dt, rng, 0, 1);
    const Tensor r = oa::randn({2, 1000}, rng, 1.0, dt);
    Tensor logits[2], grads[2];
    for (int i = 0; i < 2; ++i) {
      Module& model = i == 0 ? *models.cpu : *models.cuda;
      const Device device = i == 0 ? Device::CPU : Device::CUDA;
      model.eval();
      model.set_requires_grad(false);  // input gradient only, as the attacks run
      Tensor input = x.to(device).clone().set_requires_grad();
      logits[i] = model(input);
      logits[i].backward(r.to(device));
      grads[i] = input.grad();
    }
    expect_close_l2(tag("ResNet-50 logits", dt), logits[1], logits[0], Quantity::Forward);
    expect_close_l2(tag("ResNet-50 input gradient", dt), grads[1], grads[0], Quantity::Gradient);
  }
}

TEST_CASE("cuda where_rows and row_adam_step (the attacks' per-sample state) match the CPU") {
  for (DType dt : kFloatTypes) {
    oa::Rng rng(41);
    const Tensor a = constant({5, 3, 4}, dt, rng), b = constant({5, 3, 4}, dt, rng), g = constant({5, 3, 4}, dt, rng);
    const Tensor mask = Tensor::from_vector<double>({1, 0, 0, 1, 1}, {5}).to(dt);
    Tensor out_cpu = Tensor::zeros({5, 3, 4}, dt), out_cuda = out_cpu.to(Device::CUDA);
    oa::backend::where_rows(mask, a, b, out_cpu);
    oa::backend::where_rows(mask.to(Device::CUDA), a.to(Device::CUDA), b.to(Device::CUDA), out_cuda);
    expect_close(tag("where_rows", dt), out_cuda, out_cpu);

    // Rows at different Adam steps; row 2 stands still (step size 0).
    const Tensor step = Tensor::from_vector<double>({0.5, 0.1, 0, 0.02, 1.0}, {5}).to(dt);
    const Tensor correction = Tensor::from_vector<double>({1000, 500, 1, 2, 1.5}, {5}).to(dt);
    Tensor w_cpu = a.clone(), m_cpu = b.clone(), v_cpu = mul(b, b);
    Tensor w_cuda = w_cpu.to(Device::CUDA), m_cuda = m_cpu.to(Device::CUDA), v_cuda = v_cpu.to(Device::CUDA);
    oa::backend::row_adam_step(w_cpu, g, m_cpu, v_cpu, step, correction, 0.9, 0.999, 1e-8);
    oa::backend::row_adam_step(w_cuda, g.to(Device::CUDA), m_cuda, v_cuda, step.to(Device::CUDA),
                               correction.to(Device::CUDA), 0.9, 0.999, 1e-8);
    expect_close(tag("row_adam_step w", dt), w_cuda, w_cpu);
    expect_close(tag("row_adam_step m", dt), m_cuda, m_cpu);
    expect_close(tag("row_adam_step v", dt), v_cuda, v_cpu);
  }
}

// The attacks take a model and inputs on one device: their per-pixel state (perturbation,
// Adam's moments, the best example) stays there, only per-sample numbers visit the host.
TEST_CASE("cuda attacks: CW-L2, CW-Linf, FMN, DDN and PGD on a tiny net moved to the GPU give the CPU's results") {
  using Attack = std::function<oa::attacks::AttackOutput(Module&, const Tensor&, const Tensor&)>;
  const std::pair<const char*, Attack> attacks[] = {
      {"cw-l2 3x100 warm start",
       [](Module& m, const Tensor& x, const Tensor& y) {
         return oa::attacks::cw_l2(m, x, y, {.search_steps = 3, .iterations = 100, .warm_start = true});
       }},
      {"cw-linf 30 iterations",
       [](Module& m, const Tensor& x, const Tensor& y) {
         return oa::attacks::cw_linf(m, x, y, {.iterations = 30, .c0 = 0.1, .max_steps = 300});
       }},
      {"fmn-linf 100 steps",
       [](Module& m, const Tensor& x, const Tensor& y) { return oa::attacks::fmn_linf(m, x, y, {.steps = 100}); }},
      {"ddn", [](Module& m, const Tensor& x, const Tensor& y) { return oa::attacks::ddn(m, x, y, {}); }},
      {"pgd Linf eps 0.1",
       [](Module& m, const Tensor& x, const Tensor& y) {
         return oa::attacks::pgd(m, x, y, {.norm = oa::attacks::Norm::Linf, .eps = 0.1});
       }},
      {"pgd L2 eps 1",
       [](Module& m, const Tensor& x, const Tensor& y) {
         return oa::attacks::pgd(m, x, y, {.norm = oa::attacks::Norm::L2, .eps = 1.0});
       }},
  };
  for (DType dt : kFloatTypes)
    for (const auto& [name, attack] : attacks) {
      // CW's abort-early and search over c, and FMN's radius, branch on comparisons that
      // float32 rounding can flip on one device only: compared in float64, where both devices
      // agree to ~1e-12.
      const std::string attack_name = name;
      if (dt == DType::Float32 && (attack_name.rfind("cw", 0) == 0 || attack_name.rfind("fmn", 0) == 0)) continue;
      const std::string what = tag(name, dt);
      const auto problem = oa::test::make_tiny_net_problem(12);
      const ModelPair models = model_pair([] { return oa::test::make_tiny_net_problem(12).model; }, dt);
      const Tensor x = problem.x.to(dt);
      const auto cpu = attack(*models.cpu, x, problem.labels);
      const auto cuda = attack(*models.cuda, x.to(Device::CUDA), problem.labels.to(Device::CUDA));
      CHECK_MESSAGE(cuda.adversarial.device() == Device::CUDA, what << ": adversarial examples on the CPU");
      REQUIRE(cuda.samples.size() == cpu.samples.size());
      int successes = 0;
      for (std::size_t i = 0; i < cpu.samples.size(); ++i) {
        const auto &a = cuda.samples[i], &b = cpu.samples[i];
        CAPTURE(i);
        REQUIRE_MESSAGE(a.success == b.success, what << ": sample " << i << " succeeded on one device only");
        CHECK_MESSAGE(a.forwards == b.forwards, what << ": a different number of forward passes");
        CHECK_MESSAGE(a.backwards == b.backwards, what << ": a different number of backward passes");
        if (!b.success) continue;
        ++successes;
        for (const auto& [norm, da, db] : {std::tuple{"L2", a.l2, b.l2}, std::tuple{"Linf", a.linf, b.linf}})
          CHECK_MESSAGE(std::abs(da - db) <= kAttackDistanceTolerance * std::abs(db),
                        fmt::format("{}: sample {}: {} distance {:.8g} on CUDA, {:.8g} on the CPU", what, i, norm, da,
                                    db));
      }
      MESSAGE(what << ": " << successes << " of " << cpu.samples.size() << " samples broken on both devices");
    }
}
