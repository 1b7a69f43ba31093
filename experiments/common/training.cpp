#include "experiments/common/training.h"

#include <algorithm>
#include <numeric>

#include "framework/autograd/node.h"
#include "framework/ops/ops.h"
#include "framework/util/progress_bar.h"

namespace oa::experiments {

double EpochStats::images_per_second() const { return seconds > 0 ? static_cast<double>(samples) / seconds : 0.0; }

namespace {

// Number of rows of [N, C] logits whose argmax equals the label.
std::int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const Tensor predicted = logits.detach();
  const std::int64_t rows = predicted.size(0), cols = predicted.size(1);
  const auto values = predicted.to_vector<float>();
  const auto truth = labels.to_vector<std::int64_t>();
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < rows; ++i) {
    const auto row = values.begin() + i * cols;
    correct += (std::max_element(row, row + cols) - row) == truth[i];
  }
  return correct;
}

// Runs `step(images, labels) -> logits, loss` over `order` in batches, accumulating stats.
template <class Step>
EpochStats run_batches(const data::Dataset& data, const std::vector<std::int64_t>& order, std::int64_t batch_size,
                       const std::string& label, Step&& step) {
  OA_CHECK(batch_size >= 1, "--batch-size must be at least 1, got {}", batch_size);
  const auto n = static_cast<std::int64_t>(order.size());
  ProgressBar bar(label, n, "img");
  EpochStats stats;
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  for (std::int64_t first = 0; first < n; first += batch_size) {
    const std::vector<std::int64_t> batch(order.begin() + first, order.begin() + std::min(n, first + batch_size));
    const Tensor images = data::take_rows(data.images, batch);
    const Tensor labels = data::take_rows(data.labels, batch);
    const auto [logits, loss] = step(images, labels);
    const auto count = static_cast<std::int64_t>(batch.size());
    loss_sum += loss.item() * static_cast<double>(count);
    correct += count_correct(logits, labels);
    stats.samples += count;
    bar.update(stats.samples, fmt::format("loss {:.4f} acc {:.2f}%", loss_sum / static_cast<double>(stats.samples),
                                          100.0 * static_cast<double>(correct) / static_cast<double>(stats.samples)));
  }
  stats.loss = stats.samples ? loss_sum / static_cast<double>(stats.samples) : 0.0;
  stats.accuracy = stats.samples ? static_cast<double>(correct) / static_cast<double>(stats.samples) : 0.0;
  stats.seconds = bar.elapsed_seconds();
  bar.finish(fmt::format("loss {:.4f} acc {:.2f}%", stats.loss, 100.0 * stats.accuracy));
  return stats;
}

}  // namespace

EpochStats train_epoch(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& data,
                       const TrainOptions& options, std::int64_t epoch, const std::string& label) {
  model.train();
  const auto order = data::shuffled_indices(data.size(), options.seed, epoch);
  return run_batches(data, order, options.batch_size, label, [&](const Tensor& images, const Tensor& labels) {
    optimizer.zero_grad();
    Tensor logits = model(images);
    Tensor loss = cross_entropy(logits, labels, options.label_smoothing);
    loss.backward();
    optimizer.step();
    return std::pair{logits, loss};
  });
}

EpochStats evaluate(nn::Module& model, const data::Dataset& data, std::int64_t batch_size, const std::string& label) {
  model.eval();
  NoGradGuard no_grad;
  std::vector<std::int64_t> order(static_cast<std::size_t>(data.size()));
  std::iota(order.begin(), order.end(), 0);
  return run_batches(data, order, batch_size, label, [&](const Tensor& images, const Tensor& labels) {
    Tensor logits = model(images);
    return std::pair{logits, cross_entropy(logits, labels)};
  });
}

}  // namespace oa::experiments
