#include "experiments/common/training.h"

#include <algorithm>

#include "framework/autograd/node.h"
#include "framework/ops/ops.h"
#include "framework/util/progress_bar.h"

namespace oa::experiments {

std::vector<std::int64_t> argmax_rows(const Tensor& logits) {
  const std::int64_t rows = logits.size(0), cols = logits.size(1);
  const auto values = logits.to_vector<float>();
  std::vector<std::int64_t> classes(static_cast<std::size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) {
    const auto row = values.begin() + i * cols;
    classes[i] = std::max_element(row, row + cols) - row;
  }
  return classes;
}

double EpochStats::images_per_second() const { return seconds > 0 ? static_cast<double>(samples) / seconds : 0.0; }

namespace {

// Number of rows of [N, C] logits whose argmax equals the label.
std::int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const auto predicted = argmax_rows(logits);
  const auto truth = labels.to_vector<std::int64_t>();
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == truth[i];
  return correct;
}

// Runs `step(batch, step_index) -> {logits, loss}` over one epoch of `loader`, with a
// progress bar, and returns the epoch's mean loss and accuracy.
template <class Step>
EpochStats run_epoch(data::BatchLoader& loader, std::int64_t epoch, const std::string& label, Step&& step) {
  loader.begin_epoch(epoch);
  ProgressBar bar(label, loader.batches_per_epoch(), "batch");
  EpochStats stats;
  double loss_sum = 0.0;
  std::int64_t correct = 0, index = 0;
  auto status = [&] {
    const auto n = static_cast<double>(std::max<std::int64_t>(1, stats.samples));
    return fmt::format("loss {:.4f} acc {:.2f}% {:.0f} img/s", loss_sum / n, 100.0 * static_cast<double>(correct) / n,
                       n / std::max(1e-9, bar.elapsed_seconds()));
  };
  while (auto batch = loader.next()) {
    const auto [logits, loss] = step(*batch, index++);
    const std::int64_t count = batch->labels.numel();
    loss_sum += loss.item() * static_cast<double>(count);
    correct += count_correct(logits, batch->labels);
    stats.samples += count;
    bar.update(index, status());
  }
  bar.finish(status());
  const auto n = static_cast<double>(std::max<std::int64_t>(1, stats.samples));
  stats.loss = loss_sum / n;
  stats.accuracy = static_cast<double>(correct) / n;
  stats.seconds = bar.elapsed_seconds();
  return stats;
}

}  // namespace

EpochStats train_epoch(nn::Module& model, optim::Optimizer& optimizer, data::BatchLoader& loader, std::int64_t epoch,
                       const std::function<double(std::int64_t)>& lr_at, double label_smoothing,
                       const std::string& label, const std::function<void(std::int64_t)>& before_step) {
  model.train();
  return run_epoch(loader, epoch, label, [&](const data::Batch& batch, std::int64_t step) {
    if (before_step) before_step(step);
    optimizer.set_lr(lr_at(step));
    optimizer.zero_grad();
    const Device device = model.device();
    Tensor logits = model(batch.images.to(device));
    Tensor loss = cross_entropy(logits, batch.labels.to(device), label_smoothing);
    loss.backward();
    optimizer.step();
    return std::pair{logits.detach(), loss.detach()};
  });
}

EpochStats evaluate(nn::Module& model, const data::Dataset& data, std::int64_t batch_size, const std::string& label,
                    std::vector<std::int64_t>* predictions) {
  model.eval();
  NoGradGuard no_grad;
  data::BatchLoader loader(data, {.batch_size = batch_size, .shuffle = false});
  if (predictions) predictions->clear();
  return run_epoch(loader, 0, label, [&](const data::Batch& batch, std::int64_t) {
    const Device device = model.device();
    Tensor logits = model(batch.images.to(device));
    if (predictions) {
      const auto classes = argmax_rows(logits);
      predictions->insert(predictions->end(), classes.begin(), classes.end());
    }
    return std::pair{logits, cross_entropy(logits, batch.labels.to(device))};
  });
}

}  // namespace oa::experiments
