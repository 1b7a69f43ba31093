#pragma once
// The training and evaluation loops shared by the run_* executables.
#include <cstdint>
#include <string>

#include "framework/data/dataset.h"
#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"

namespace oa::experiments {

struct EpochStats {
  double loss = 0.0;      // mean cross-entropy over the samples
  double accuracy = 0.0;  // fraction classified correctly
  double seconds = 0.0;
  double images_per_second() const;
  std::int64_t samples = 0;
};

struct TrainOptions {
  std::int64_t batch_size = 128;
  std::uint64_t seed = 0;
  double label_smoothing = 0.0;
};

// One pass over `data` in a (seed, epoch)-shuffled order, in training mode, with a progress bar.
EpochStats train_epoch(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& data,
                       const TrainOptions& options, std::int64_t epoch, const std::string& label);

// Loss and accuracy in eval mode, without recording gradients.
EpochStats evaluate(nn::Module& model, const data::Dataset& data, std::int64_t batch_size, const std::string& label);

}  // namespace oa::experiments
