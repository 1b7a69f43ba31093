#include "experiments/common/training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "framework/autograd/node.h"
#include "framework/dist/dist.h"
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

// The rows of `top` followed by those of `bottom` (the same dtype and row shape), on the host.
Tensor stack_rows(const Tensor& top, const Tensor& bottom) {
  const Tensor a = top.to(Device::CPU), b = bottom.to(Device::CPU);
  Shape shape = a.shape();
  shape[0] += b.size(0);
  Tensor out = Tensor::empty(shape, a.dtype());
  auto* bytes = static_cast<char*>(out.raw_data());
  std::memcpy(bytes, a.raw_data(), a.nbytes());
  std::memcpy(bytes + a.nbytes(), b.raw_data(), b.nbytes());
  return out;
}

// The rows of one adversarial-training step: the batch cut to `kept` rows, of which the first
// `adversarial` become adversarial examples. When the budget ends inside the batch, the batch
// is cut so that exactly the remaining examples are made, with clean rows in the same
// proportion.
struct AdversarialStep {
  std::int64_t adversarial = 0, kept = 0;
};
AdversarialStep adversarial_step(std::int64_t rows, const AdversarialBatches& adv) {
  const std::int64_t remaining = adv.stop_at - adv.made;
  std::int64_t adversarial = adversarial_rows(rows, adv.fraction), kept = rows;
  if (adversarial > remaining) {
    adversarial = remaining;
    kept = std::clamp<std::int64_t>(std::llround(static_cast<double>(remaining) / adv.fraction), remaining, rows);
  }
  return {adversarial, kept};
}

// The inputs of the rows [slice.begin, slice.end) of an adversarial-training step: the
// adversarial examples of those among its first s.adversarial rows (made by `adv` against
// `model`, each from the random start of its row in the batch), then the clean images of the
// others. The examples are made with the model in eval mode: BatchNorm normalises with its
// running statistics and leaves them alone, so the attack's many intermediate iterates (which
// the model never trains on) do not enter the statistics, and the example answers the model
// as it will be evaluated. The update that follows runs in train mode, on batch statistics of
// the slice it trains on, adversarial rows included. Each example depends on its own row only,
// so a rank makes the examples of its slice alone.
Tensor adversarial_slice(nn::Module& model, const AdversarialBatches& adv, const data::Batch& batch,
                         const AdversarialStep& s, const dist::RowRange& slice, std::int64_t epoch, std::int64_t step) {
  const std::int64_t split = std::clamp(s.adversarial, slice.begin, slice.end);
  const auto attacked = range(slice.begin, split), clean = range(split, slice.end);
  Tensor inputs = clean.empty() ? Tensor() : data::take_rows(batch.images, clean);
  if (!attacked.empty()) {
    model.eval();
    const Device device = model.device();
    const Tensor examples = adv.make(model, data::take_rows(batch.images, attacked).to(device),
                                     data::take_rows(batch.labels, attacked).to(device), epoch, step, slice.begin);
    model.train();
    inputs = inputs.defined() ? stack_rows(examples, inputs) : examples;
  }
  return inputs.detach();
}

// The model's state that a forward pass in train mode changes: the values of its buffers.
std::vector<Tensor> buffer_values(const nn::Module& model) {
  std::vector<Tensor> values;
  for (const auto& [name, b] : model.named_buffers()) values.push_back(b.clone());
  return values;
}
void restore_buffers(nn::Module& model, const std::vector<Tensor>& values) {
  std::size_t k = 0;
  for (auto& [name, b] : model.named_buffers()) b.copy_(values.at(k++));
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
  OA_CHECK(o.simulated_ranks >= 1, "train_epoch: simulated ranks must be at least 1, got {}", o.simulated_ranks);
  OA_CHECK(o.simulated_ranks == 1 || dist::world_size() == 1,
           "train_epoch: simulating {} ranks inside a run of {} MPI ranks; choose one", o.simulated_ranks,
           dist::world_size());
  model.train();
  AdversarialBatches* adv = o.adversarial;
  const std::function<bool()> budget_spent = [adv] { return adv->made >= adv->stop_at; };
  // Data parallel: every rank draws the same global batch of N rows (the loader's order and
  // augmentation depend on the seed, epoch and batch only) and computes the slices it owns:
  // its own under MPI, all of them when it simulates ranks. A slice k of n_k rows contributes
  // the gradient of its mean loss weighted by n_k / N, so the sum over slices (the all-reduce)
  // is the gradient of the global batch's mean loss:
  //   d/dw (1/N) sum_i l_i = sum_k (n_k / N) d/dw (1/n_k) sum_{i in k} l_i.
  // Every rank then takes the same optimizer step. BatchNorm normalises with the statistics of
  // each slice and keeps rank 0's running statistics (broadcast after every step), as PyTorch's
  // DDP does by default.
  const int slices = std::max(dist::world_size(), o.simulated_ranks);
  double communication_seconds = 0;
  std::vector<int> my_slices;
  for (int k = 0; k < slices; ++k)
    if (dist::world_size() == 1 || k == dist::rank()) my_slices.push_back(k);
  EpochStats stats = run_epoch(
      loader, epoch, o.label, o.first_step, o.last_step, adv ? budget_spent : nullptr,
      [&](const data::Batch& batch, std::int64_t step) {
        if (o.before_step) o.before_step(step);
        optimizer.set_lr(o.lr_at(step));
        const Device device = model.device();
        const AdversarialStep plan = adv ? adversarial_step(batch.labels.numel(), *adv)
                                         : AdversarialStep{0, batch.labels.numel()};
        const std::int64_t rows = plan.kept;
        // The inputs of my slices first (adversarial examples against the model as the step
        // finds it, as every rank makes its own), then their updates.
        std::vector<Tensor> inputs;
        for (const int k : my_slices) {
          const dist::RowRange slice = dist::batch_slice(rows, k, slices);
          if (slice.size() == 0)  // a batch of fewer rows than ranks leaves this one none
            inputs.emplace_back();
          else
            inputs.push_back(adv ? adversarial_slice(model, *adv, batch, plan, slice, epoch, step)
                                 : data::take_rows(batch.images, range(slice.begin, slice.end)));
        }
        if (adv) adv->made += plan.adversarial;
        optimizer.zero_grad();
        std::vector<Tensor> rank0_buffers;  // the running statistics after slice 0, when simulating
        Tensor logits, slice_labels;
        double loss_sum = 0;  // over the rows of my slices
        for (std::size_t m = 0; m < my_slices.size(); ++m) {
          const int k = my_slices[m];
          const dist::RowRange slice = dist::batch_slice(rows, k, slices);
          if (slice.size() == 0) continue;
          const Tensor x = inputs[m].to(device), y = data::take_rows(batch.labels, range(slice.begin, slice.end));
          Tensor slice_logits = model(x);
          Tensor loss = cross_entropy(slice_logits, y.to(device), o.label_smoothing);
          const double value = loss.item();
          if (!std::isfinite(value)) {
            const std::string culprit = first_non_finite_parameter(model);
            throw Error(fmt::format("step {} of epoch {}: the loss is {} (learning rate {}); {}", step, epoch + 1,
                                    value, optimizer.lr(),
                                    culprit.empty() ? "every parameter is finite: the inputs or the step diverged"
                                                    : "the first non-finite parameter is " + culprit));
          }
          (slices == 1 ? loss : loss * (static_cast<double>(slice.size()) / static_cast<double>(rows))).backward();
          loss_sum += value * static_cast<double>(slice.size());
          logits = logits.defined() ? stack_rows(logits, slice_logits.detach()) : slice_logits.detach();
          slice_labels = slice_labels.defined() ? stack_rows(slice_labels, y) : y;
          if (k == 0 && my_slices.size() > 1) rank0_buffers = buffer_values(model);
        }
        if (!rank0_buffers.empty()) restore_buffers(model, rank0_buffers);
        const auto exchange_start = std::chrono::steady_clock::now();
        dist::all_reduce_gradients(model);
        dist::broadcast_buffers(model);
        communication_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange_start).count();
        optimizer.step();
        if (!slice_labels.defined()) {  // a batch of fewer rows than ranks left this rank none
          logits = Tensor::empty({0, 1});
          slice_labels = Tensor::empty({0}, DType::Int64);
        }
        const auto my_rows = static_cast<double>(slice_labels.numel());
        return StepResult{logits, Tensor::scalar(my_rows > 0 ? loss_sum / my_rows : 0.0), slice_labels};
      });
  const std::string culprit = first_non_finite_parameter(model);
  OA_CHECK(culprit.empty(), "epoch {}: after its last step the parameter {} holds a non-finite value (learning rate {})",
           epoch + 1, culprit, optimizer.lr());
  // The epoch's loss and accuracy over every rank's rows.
  std::vector<double> sums = {stats.loss * static_cast<double>(stats.samples),
                              stats.accuracy * static_cast<double>(stats.samples), static_cast<double>(stats.samples)};
  dist::all_reduce_sum(sums);
  stats.samples = static_cast<std::int64_t>(sums[2]);
  stats.loss = sums[0] / std::max(1.0, sums[2]);
  stats.accuracy = sums[1] / std::max(1.0, sums[2]);
  stats.communication_seconds = communication_seconds;
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
