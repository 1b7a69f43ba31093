// Adversarial fine-tuning (experiments/common/training.h, adversarial_training.h): the exact
// budget of adversarial examples, a run resumed in chunks equal to the uninterrupted one,
// pruned weights and filter-pruned widths kept, and a real robustness gain on a toy task where
// plain training is known to learn non-robust features.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>

#include "experiments/common/adversarial_training.h"
#include "experiments/common/training.h"
#include "framework/data/loader.h"
#include "framework/nn/layers.h"
#include "framework/optim/optimizer.h"
#include "framework/prune/filter.h"
#include "framework/prune/magnitude.h"
#include "framework/prune/masks.h"
#include "models/zoo.h"

using namespace oa;

namespace {

// Two classes (s = +-1) of 1x8x8 images in the spirit of Tsipras et al. 2019: 4 "robust"
// pixels at 0.5 + 0.3 s that agree with the label 90% of the time, and 60 "weak" pixels at
// 0.5 + 0.06 s + N(0, 0.1) that together predict it almost perfectly. Plain training leans on
// the weak pixels, which a Linf perturbation of 0.1 (> 0.06) turns against the label; only the
// robust pixels survive it, so a robust model can reach about 90% and no more.
data::Dataset robust_feature_task(std::int64_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> pixels;
  std::vector<std::int64_t> labels;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t label = i % 2;
    const double s = label == 1 ? 1.0 : -1.0, robust_sign = rng.uniform() < 0.9 ? s : -s;
    for (int p = 0; p < 64; ++p) {
      const double v = p < 4 ? 0.5 + 0.3 * robust_sign : 0.5 + 0.06 * s + 0.1 * rng.normal();
      pixels.push_back(static_cast<float>(std::clamp(v, 0.0, 1.0)));
    }
    labels.push_back(label);
  }
  return {.name = "robust-feature-task",
          .images = Tensor::from_vector(pixels, {n, 1, 8, 8}),
          .labels = Tensor::from_vector(labels, {n}),
          .classes = 2};
}

// conv -> BN -> ReLU -> linear: small, with BatchNorm (train and eval modes differ).
std::shared_ptr<nn::Sequential> small_net(std::uint64_t seed) {
  Rng rng(seed);
  auto net = std::make_shared<nn::Sequential>();
  net->add(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 1, .out_channels = 4, .kernel = 3,
                                                          .padding = 1},
                                        rng));
  net->add(std::make_shared<nn::BatchNorm2d>(4));
  net->add(std::make_shared<nn::ReLU>());
  net->add(std::make_shared<nn::Flatten>());
  net->add(std::make_shared<nn::Linear>(4 * 64, 2, rng));
  return net;
}

experiments::AdversarialRecipe linf_recipe() { return {.attack = "pgd-linf", .eps = 0.1, .steps = 5, .seed = 1}; }

// Adversarial fine-tuning of `model` with a budget, in calls of at most `chunk` steps (0: one
// call per epoch), each with a fresh optimiser restored from the previous call's state, as a
// resumed run does. Returns the examples counted and the steps run.
std::pair<std::int64_t, std::int64_t> adversarial_fine_tune(nn::Module& model, const data::Dataset& train,
                                                            std::int64_t batch_size, double fraction,
                                                            std::int64_t budget, std::int64_t chunk) {
  data::BatchLoader loader(train, {.batch_size = batch_size, .seed = 3});
  experiments::AdversarialBatches adv{.make = experiments::adversarial_example_maker(linf_recipe()),
                                      .fraction = fraction,
                                      .stop_at = budget};
  optim::NamedState state;
  std::int64_t epoch = 0, step = 0, steps = 0;
  while (adv.made < budget) {
    optim::SGD optimizer(model.parameters(), {.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4});
    optimizer.set_masks(prune::parameter_masks(model));
    if (!state.empty()) optimizer.load_state(state);
    const auto stats = experiments::train_epoch(
        model, optimizer, loader, epoch,
        {.lr_at = [](std::int64_t) { return 0.01; },
         .label = "adv",
         .first_step = step,
         .last_step = chunk > 0 ? step + chunk : -1,
         .adversarial = &adv});
    state = optimizer.state();
    step += stats.steps;
    steps += stats.steps;
    if (step >= loader.batches_per_epoch()) epoch += 1, step = 0;
  }
  return {adv.made, steps};
}

bool same_tensors(const nn::Module& a, const nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  const auto ba = a.named_buffers(), bb = b.named_buffers();
  pa.insert(pa.end(), ba.begin(), ba.end());
  pb.insert(pb.end(), bb.begin(), bb.end());
  if (pa.size() != pb.size()) return false;
  for (std::size_t i = 0; i < pa.size(); ++i)
    if (pa[i].second.to_vector<double>() != pb[i].second.to_vector<double>()) return false;
  return true;
}

}  // namespace

TEST_CASE("adversarial fine-tuning: exactly K examples, also in resumed chunks, and the same model") {
  const auto train = robust_feature_task(50, 1);  // batches of 8: 6 full ones and one of 2
  for (double fraction : {1.0, 0.5}) {
    CAPTURE(fraction);
    for (std::int64_t budget : {1, 37, 101, 150}) {  // inside one batch, one epoch, and across epochs
      CAPTURE(budget);
      auto whole = small_net(5), chunked = small_net(5);
      const auto [made, steps] = adversarial_fine_tune(*whole, train, 8, fraction, budget, 0);
      const auto [made_chunked, steps_chunked] = adversarial_fine_tune(*chunked, train, 8, fraction, budget, 3);
      CHECK(made == budget);
      CHECK(made_chunked == budget);
      CHECK(steps == experiments::adversarial_training_steps(50, 8, fraction, budget));
      CHECK(steps_chunked == steps);
      CHECK(same_tensors(*whole, *chunked));  // bit for bit, BatchNorm statistics included
    }
  }
  CHECK(experiments::adversarial_training_steps(50, 8, 1.0, 50) == 7);
  CHECK(experiments::adversarial_training_steps(50, 8, 1.0, 51) == 8);
  CHECK(experiments::adversarial_training_steps(50, 8, 0.5, 25) == 7);  // 4 per batch of 8, 1 of the last 2
  CHECK_THROWS_AS(experiments::adversarial_training_steps(50, 8, 0.01, 10), Error);  // no example ever
}

TEST_CASE("adversarial fine-tuning keeps pruned weights at exactly zero and filter-pruned widths") {
  const auto train = robust_feature_task(40, 2);
  auto net = small_net(6);
  prune::magnitude_prune(*net, {.sparsity = 0.7});
  std::vector<std::vector<double>> masks;
  for (const auto& layer : prune::prunable_layers(*net)) masks.push_back(prune::mask_of(layer).to_vector<double>());
  adversarial_fine_tune(*net, train, 8, 1.0, 60, 0);
  std::size_t l = 0;
  std::int64_t zeros = 0;
  for (const auto& layer : prune::prunable_layers(*net)) {
    const auto w = layer.weight.to_vector<double>();
    for (std::size_t i = 0; i < w.size(); ++i)
      if (masks[l][i] == 0) {
        CHECK(w[i] == 0.0);
        zeros += 1;
      }
    l += 1;
  }
  CHECK(zeros > 0);

  Rng rng(0);
  auto resnet = models::make_model({.name = "resnet20", .in_channels = 1, .image_size = 8, .classes = 2}, rng);
  const auto dense_widths = prune::chain_widths(*resnet);
  prune::filter_prune(*resnet, 0.5, dense_widths);
  const auto widths = prune::chain_widths(*resnet);
  adversarial_fine_tune(*resnet, train, 8, 1.0, 12, 0);
  CHECK(prune::chain_widths(*resnet) == widths);
  CHECK(widths.at("layer1.0.conv1") == dense_widths.at("layer1.0.conv1") / 2);
}

TEST_CASE("adversarial fine-tuning raises PGD robust accuracy at the training eps far beyond chance") {
  const auto train = robust_feature_task(400, 3), test = robust_feature_task(200, 4);
  auto net = small_net(7);
  data::BatchLoader loader(train, {.batch_size = 20, .seed = 1});
  optim::SGD optimizer(net->parameters(), {.lr = 0.05, .momentum = 0.9});
  for (std::int64_t epoch = 0; epoch < 5; ++epoch)
    experiments::train_epoch(*net, optimizer, loader, epoch, {.lr_at = [](std::int64_t) { return 0.05; }});
  const experiments::RobustnessOptions measure{.eps = 0.1, .steps = 20, .restarts = 2, .noise_draws = 20};
  const auto before = experiments::measure_robustness(*net, test, measure, "before");
  adversarial_fine_tune(*net, train, 20, 1.0, 4000, 0);
  const auto after = experiments::measure_robustness(*net, test, measure, "after");
  MESSAGE("clean ", before.clean_accuracy, " -> ", after.clean_accuracy, ", robust ", before.robust_accuracy, " -> ",
          after.robust_accuracy, ", noise ", before.noise_accuracy, " -> ", after.noise_accuracy);
  CHECK(before.clean_accuracy > 0.95);   // the weak pixels predict the label
  CHECK(before.robust_accuracy < 0.2);   // and PGD turns them against it
  // 200 test samples: a gain of 0.4 is 11 binomial standard deviations (at most 0.035 each).
  CHECK(after.robust_accuracy > before.robust_accuracy + 0.4);
  CHECK(after.robust_accuracy <= after.noise_accuracy);  // no sign of gradient masking
}
