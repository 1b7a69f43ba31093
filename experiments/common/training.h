#pragma once
// The training and evaluation loops shared by the run_* executables.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "framework/data/loader.h"
#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"

namespace oa::experiments {

struct EpochStats {
  double loss = 0.0;      // mean cross-entropy over the samples
  double accuracy = 0.0;  // fraction classified correctly
  double seconds = 0.0;
  std::int64_t samples = 0;
  double images_per_second() const;
};

// The predicted class (argmax) of each row of [N, C] logits.
std::vector<std::int64_t> argmax_rows(const Tensor& logits);

// The loops run on the model's device: each batch is copied there from the host.
//
// One epoch of `loader` in training mode with a progress bar. Before step s of the epoch
// the optimiser's learning rate is set to lr_at(s), and before_step(s) runs if given
// (gradual pruning tightens the masks there).
EpochStats train_epoch(nn::Module& model, optim::Optimizer& optimizer, data::BatchLoader& loader, std::int64_t epoch,
                       const std::function<double(std::int64_t)>& lr_at, double label_smoothing,
                       const std::string& label, const std::function<void(std::int64_t)>& before_step = nullptr);

// Loss and accuracy in eval mode, without recording gradients. With `predictions`, also
// the predicted class (the argmax) of every sample, in the data set's order.
EpochStats evaluate(nn::Module& model, const data::Dataset& data, std::int64_t batch_size, const std::string& label,
                    std::vector<std::int64_t>* predictions = nullptr);

}  // namespace oa::experiments
