#pragma once
// What adversarial fine-tuning trains on (the attack that makes each step's examples) and the
// robustness it is judged by: clean accuracy, PGD robust accuracy and random-noise accuracy at
// the training radius. The training loop itself is train_epoch (training.h).
#include <cstdint>
#include <string>

#include "attacks/pgd.h"
#include "experiments/common/training.h"
#include "framework/data/dataset.h"

namespace oa::experiments {

struct AdversarialRecipe {
  std::string attack = "pgd-linf";  // pgd-linf | pgd-l2 | ddn
  double eps = 0.1;                 // the radius of the ball (ddn: the cap on the L2 norm)
  std::int64_t steps = 7;           // attack iterations per example
  double step_size = 0.0;           // pgd: the step; 0 means 2.5 eps / steps (Madry et al.)
  bool random_start = true;         // pgd: start uniformly inside the ball
  std::uint64_t seed = 0;           // with (epoch, step), fixes each step's random start
};

// The norm of the recipe's ball: Linf for pgd-linf, L2 for pgd-l2 and ddn.
attacks::Norm recipe_norm(const AdversarialRecipe& recipe);

// AdversarialBatches::make for the recipe: PGD's last iterate after every step
// (attacks::pgd_training_examples), or DDN's smallest adversarial example (Rony et al. 2019)
// scaled back onto the L2 ball of radius eps where it lies outside (a failure is the clean
// input). Throws on an unknown attack or invalid numbers.
decltype(AdversarialBatches::make) adversarial_example_maker(const AdversarialRecipe& recipe);

struct RobustnessOptions {
  attacks::Norm norm = attacks::Norm::Linf;
  double eps = 0.1;
  std::int64_t steps = 50;        // PGD iterations per restart
  std::int64_t restarts = 3;      // PGD runs from independent random starts
  std::int64_t noise_draws = 100; // random-noise draws per sample (label queries)
  std::uint64_t seed = 0;
  std::int64_t batch_size = 250;
};

struct Robustness {
  std::int64_t samples = 0;
  double clean_accuracy = 0;   // classified correctly
  double robust_accuracy = 0;  // correctly, and no PGD restart breaks it inside the ball
  double noise_accuracy = 0;   // correctly, and no random-noise draw of norm eps breaks it
  // Samples random noise breaks and PGD does not: a white-box attack weaker than noise on
  // them is the sign of gradient masking (Carlini et al. 2019).
  std::int64_t broken_by_noise_only = 0;
  double seconds = 0;
};

// The measures above on every sample of `data`, with a progress bar named `label`. Every
// adversarial example is verified by an independent forward pass (attacks::verify). In a run
// of several ranks each rank measures its share of the batches and every rank gets the sums
// (collective); `seconds` are this rank's.
Robustness measure_robustness(nn::Module& model, const data::Dataset& data, const RobustnessOptions& options,
                              const std::string& label);

}  // namespace oa::experiments
