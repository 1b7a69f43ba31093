#include "experiments/common/training.h"

#include <algorithm>
#include <cmath>

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

// What one step ran on and computed: the labels of its rows (a cut batch has fewer).
struct StepResult {
  Tensor logits, loss, labels;
};

// Runs `step(batch, step_index) -> StepResult` over steps [first_step, last_step) of epoch
// `epoch` of `loader` (last_step < 0: to the end; earlier batches are drawn and skipped), with
// a progress bar, until `done()` (if given) says stop; returns the mean loss and accuracy.
template <class Step>
EpochStats run_epoch(data::BatchLoader& loader, std::int64_t epoch, const std::string& label,
                     std::int64_t first_step, std::int64_t last_step, const std::function<bool()>& done, Step&& step) {
  loader.begin_epoch(epoch);
  const std::int64_t last =
      last_step < 0 ? loader.batches_per_epoch() : std::min(last_step, loader.batches_per_epoch());
  ProgressBar bar(label, std::max<std::int64_t>(0, last - first_step), "batch");
  EpochStats stats;
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  auto status = [&] {
    const auto n = static_cast<double>(std::max<std::int64_t>(1, stats.samples));
    return fmt::format("loss {:.4f} acc {:.2f}% {:.0f} img/s", loss_sum / n, 100.0 * static_cast<double>(correct) / n,
                       n / std::max(1e-9, bar.elapsed_seconds()));
  };
  for (std::int64_t index = 0; index < last; ++index) {
    const auto batch = loader.next();
    if (!batch) break;
    if (index < first_step) continue;
    if (done && done()) break;
    const StepResult result = step(*batch, index);
    const std::int64_t count = result.labels.numel();
    loss_sum += result.loss.item() * static_cast<double>(count);
    correct += count_correct(result.logits, result.labels);
    stats.samples += count;
    stats.steps += 1;
    bar.update(stats.steps, status());
  }
  bar.finish(status());
  const auto n = static_cast<double>(std::max<std::int64_t>(1, stats.samples));
  stats.loss = loss_sum / n;
  stats.accuracy = static_cast<double>(correct) / n;
  stats.seconds = bar.elapsed_seconds();
  return stats;
}

// The name of the first parameter holding a NaN or an infinity, or "" when all are finite.
std::string first_non_finite_parameter(const nn::Module& model) {
  for (const auto& [name, p] : model.named_parameters()) {
    const auto values = p.to_vector<double>();
    if (!std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); })) return name;
  }
  return "";
}

std::vector<std::int64_t> range(std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> indices;
  for (std::int64_t i = begin; i < end; ++i) indices.push_back(i);
  return indices;
}

// The rows of `top` followed by those of `bottom` (float32, the same row shape), on the host.
Tensor stack_rows(const Tensor& top, const Tensor& bottom) {
  auto values = top.to(Device::CPU).to_vector<float>();
  const auto rest = bottom.to(Device::CPU).to_vector<float>();
  values.insert(values.end(), rest.begin(), rest.end());
  Shape shape = top.shape();
  shape[0] += bottom.size(0);
  return Tensor::from_vector(values, shape);
}

// The inputs and labels of one adversarial-training step, on `device`: the batch's first rows
// replaced by adversarial examples (made by `adv` against `model`) and counted in adv.made.
// When the budget ends inside the batch, the batch is cut so that exactly the remaining
// examples are made, with clean rows in the same proportion.
std::pair<Tensor, Tensor> adversarial_batch(nn::Module& model, AdversarialBatches& adv, const data::Batch& batch,
                                            std::int64_t epoch, std::int64_t step, Device device) {
  const std::int64_t rows = batch.labels.numel(), remaining = adv.stop_at - adv.made;
  std::int64_t adversarial = adversarial_rows(rows, adv.fraction), kept = rows;
  if (adversarial > remaining) {
    adversarial = remaining;
    kept = std::clamp<std::int64_t>(std::llround(static_cast<double>(remaining) / adv.fraction), remaining, rows);
  }
  const auto first = range(0, adversarial), rest = range(adversarial, kept);
  const Tensor labels = data::take_rows(batch.labels, range(0, kept));
  // The examples are made with the model in eval mode: BatchNorm normalises with its running
  // statistics and leaves them alone, so the attack's many intermediate iterates (which the
  // model never trains on) do not enter the statistics, and the example answers the model as it
  // will be evaluated. The update that follows runs in train mode, on batch statistics of the
  // batch it trains on, adversarial rows included.
  Tensor inputs = rest.empty() ? Tensor() : data::take_rows(batch.images, rest);  // the clean rows
  if (adversarial > 0) {
    model.eval();
    const Tensor examples = adv.make(model, data::take_rows(batch.images, first).to(device),
                                     data::take_rows(batch.labels, first).to(device), epoch, step);
    model.train();
    adv.made += adversarial;
    inputs = inputs.defined() ? stack_rows(examples, inputs) : examples;
  }
  return {inputs.detach().to(device), labels.to(device)};
}

}  // namespace

std::int64_t adversarial_rows(std::int64_t rows, double fraction) {
  return std::llround(fraction * static_cast<double>(rows));
}

std::int64_t adversarial_training_steps(std::int64_t train_size, std::int64_t batch_size, double fraction,
                                        std::int64_t budget) {
  OA_CHECK(train_size >= 1 && batch_size >= 1 && fraction > 0 && fraction <= 1 && budget >= 0,
           "adversarial training: invalid training set size {}, batch size {}, fraction {} or budget {}", train_size,
           batch_size, fraction, budget);
  const std::int64_t batches = (train_size + batch_size - 1) / batch_size;
  std::int64_t per_epoch = 0;  // adversarial examples in one whole epoch
  for (std::int64_t b = 0; b < batches; ++b)
    per_epoch += adversarial_rows(std::min(batch_size, train_size - b * batch_size), fraction);
  OA_CHECK(per_epoch > 0, "adversarial training: a fraction of {} of batches of {} makes no adversarial example",
           fraction, batch_size);
  const std::int64_t whole_epochs = budget / per_epoch;
  std::int64_t steps = whole_epochs * batches, made = whole_epochs * per_epoch;
  for (std::int64_t b = 0; made < budget; ++b, ++steps)
    made += adversarial_rows(std::min(batch_size, train_size - b * batch_size), fraction);
  return steps;
}

EpochStats train_epoch(nn::Module& model, optim::Optimizer& optimizer, data::BatchLoader& loader, std::int64_t epoch,
                       const TrainEpochOptions& o) {
  model.train();
  AdversarialBatches* adv = o.adversarial;
  const std::function<bool()> budget_spent = [adv] { return adv->made >= adv->stop_at; };
  EpochStats stats = run_epoch(
      loader, epoch, o.label, o.first_step, o.last_step, adv ? budget_spent : nullptr,
      [&](const data::Batch& batch, std::int64_t step) {
        if (o.before_step) o.before_step(step);
        optimizer.set_lr(o.lr_at(step));
        const Device device = model.device();
        const auto [inputs, labels] = adv ? adversarial_batch(model, *adv, batch, epoch, step, device)
                                          : std::pair{batch.images.to(device), batch.labels.to(device)};
        optimizer.zero_grad();
        Tensor logits = model(inputs);
        Tensor loss = cross_entropy(logits, labels, o.label_smoothing);
        const double value = loss.item();
        if (!std::isfinite(value)) {
          const std::string culprit = first_non_finite_parameter(model);
          throw Error(fmt::format("step {} of epoch {}: the loss is {} (learning rate {}); {}", step, epoch + 1, value,
                                  optimizer.lr(),
                                  culprit.empty() ? "every parameter is finite: the inputs or the step diverged"
                                                  : "the first non-finite parameter is " + culprit));
        }
        loss.backward();
        optimizer.step();
        return StepResult{logits.detach(), loss.detach(), labels};
      });
  const std::string culprit = first_non_finite_parameter(model);
  OA_CHECK(culprit.empty(), "epoch {}: after its last step the parameter {} holds a non-finite value (learning rate {})",
           epoch + 1, culprit, optimizer.lr());
  return stats;
}

EpochStats evaluate(nn::Module& model, const data::Dataset& data, std::int64_t batch_size, const std::string& label,
                    std::vector<std::int64_t>* predictions) {
  model.eval();
  NoGradGuard no_grad;
  data::BatchLoader loader(data, {.batch_size = batch_size, .shuffle = false});
  if (predictions) predictions->clear();
  return run_epoch(loader, 0, label, 0, -1, nullptr, [&](const data::Batch& batch, std::int64_t) {
    const Device device = model.device();
    Tensor logits = model(batch.images.to(device));
    if (predictions) {
      const auto classes = argmax_rows(logits);
      predictions->insert(predictions->end(), classes.begin(), classes.end());
    }
    return StepResult{logits, cross_entropy(logits, batch.labels.to(device)), batch.labels};
  });
}

}  // namespace oa::experiments
