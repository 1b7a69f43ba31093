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
  std::int64_t steps = 0;  // batches run
  double communication_seconds = 0.0;  // in the ranks' gradient all-reduce and buffer broadcast
  double images_per_second() const;
};

// Adversarial fine-tuning (Madry et al. 2017): each step replaces the first rows of its batch
// (a `fraction` of them; the batches are shuffled) by adversarial examples made against the
// model being trained, and counts them one by one. The budget is exact: once `made` reaches
// `stop_at` the epoch ends, and the step that reaches it has its batch cut to fit.
struct AdversarialBatches {
  // The adversarial examples of images and labels (on the model's device) against `model`:
  // rows first_row, first_row + 1, ... of the step's batch. `epoch` and `step` fix the random
  // starts of the batch, and a row's start is the same whichever slice of the batch it is made
  // in, so a resumed run, and a run of any number of ranks, draw the same starts.
  std::function<Tensor(nn::Module& model, const Tensor& images, const Tensor& labels, std::int64_t epoch,
                       std::int64_t step, std::int64_t first_row)>
      make;
  double fraction = 1.0;
  std::int64_t stop_at = 0;  // the budget: the epoch ends when `made` reaches it
  std::int64_t made = 0;     // adversarial examples made so far, over every call
};

// The adversarial rows of a batch of `rows` samples: round(fraction * rows).
std::int64_t adversarial_rows(std::int64_t rows, double fraction);

// Steps that adversarial fine-tuning with a budget of `budget` examples takes on a training
// set of `train_size` samples in batches of `batch_size` (the last batch of every epoch short,
// the last step cut to fit). Throws when an epoch would make no adversarial example.
std::int64_t adversarial_training_steps(std::int64_t train_size, std::int64_t batch_size, double fraction,
                                        std::int64_t budget);

struct TrainEpochOptions {
  std::function<double(std::int64_t)> lr_at{};  // the learning rate before step s of the epoch
  double label_smoothing = 0.0;
  std::string label{};  // of the progress bar
  // Runs before step s if given (gradual pruning tightens the masks there).
  std::function<void(std::int64_t)> before_step = nullptr;
  // Runs steps [first_step, last_step) of the epoch (last_step < 0: to its end). The batches
  // before first_step are drawn and skipped, so a run resumed inside an epoch sees the same
  // batches as an uninterrupted one.
  std::int64_t first_step = 0, last_step = -1;
  AdversarialBatches* adversarial = nullptr;  // adversarial fine-tuning, or plain training
  // In a single process: run the steps as `simulated_ranks` data-parallel ranks would (each
  // global batch cut into that many slices, BatchNorm statistics per slice, rank 0's running
  // statistics kept), to reproduce an MPI run's model on one machine. 1: plain training.
  int simulated_ranks = 1;
};

// The predicted class (argmax) of each row of [N, C] logits.
std::vector<std::int64_t> argmax_rows(const Tensor& logits);

// The loops run on the model's device: each batch is copied there from the host.
//
// One epoch of `loader` (or the steps of it that options name) in training mode with a
// progress bar, data parallel over the ranks of dist (training.cpp says how); the optimiser's learning rate is set to lr_at(s) before step s. A non-finite
// loss stops the run with an error naming the step, the value and the first non-finite
// parameter; so does a parameter left non-finite at the end (a checkpoint never holds NaN).
EpochStats train_epoch(nn::Module& model, optim::Optimizer& optimizer, data::BatchLoader& loader, std::int64_t epoch,
                       const TrainEpochOptions& options);

// Loss and accuracy in eval mode, without recording gradients. With `predictions`, also
// the predicted class (the argmax) of every sample, in the data set's order.
EpochStats evaluate(nn::Module& model, const data::Dataset& data, std::int64_t batch_size, const std::string& label,
                    std::vector<std::int64_t>* predictions = nullptr);

}  // namespace oa::experiments
