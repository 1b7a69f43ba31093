// run_train: train a model on an image data set, checkpointing every epoch.
//   run_train --model resnet20 --data fashion-mnist --epochs 8 --out runs/resnet20
// DIR receives checkpoint.safetensors (the model after the last finished epoch, with its
// metadata), optimizer-<epoch>.safetensors (momentum buffers, for --resume), history.csv (one row
// per epoch) and summary.json. Every file is written atomically; after a kill, --resume
// continues from the last finished epoch and reproduces the uninterrupted run.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "experiments/common/cli.h"
#include "experiments/common/datasets.h"
#include "experiments/common/model_io.h"
#include "experiments/common/optimizer_state.h"
#include "experiments/common/training.h"
#include "framework/io/atomic_file.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "framework/optim/schedule.h"
#include "framework/util/runtime.h"

namespace fs = std::filesystem;

namespace {

struct Args {
  std::string model = "small-cnn";
  std::int64_t width = 1;
  oa::experiments::DataChoice data;
  std::int64_t limit_test = 0;
  std::string out;
  bool resume = false;
  int epochs = 1;
  int stop_after = 0;
  std::int64_t batch_size = 128;
  double lr = 0.05, momentum = 0.9, weight_decay = 5e-4, label_smoothing = 0.0;
  std::string schedule = "one-cycle";
  bool nesterov = true;
  std::int64_t crop_padding = 2;
  bool flip = true;
  std::uint64_t seed = 0;
  int simulate_ranks = 1;
  oa::experiments::RuntimeOptions runtime;
};

// history.csv from the epochs' JSON rows (pandas.read_csv loads it).
std::string history_csv(const nlohmann::json& history) {
  std::string csv = "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,train_images_per_second,seconds\n";
  for (const auto& row : history)
    csv += fmt::format("{},{},{},{},{},{},{},{}\n", row["epoch"].get<int>(), row["lr"].get<double>(),
                       row["train_loss"].get<double>(), row["train_accuracy"].get<double>(),
                       row["test_loss"].get<double>(), row["test_accuracy"].get<double>(),
                       row["train_images_per_second"].get<double>(), row["seconds"].get<double>());
  return csv;
}

int run(const Args& args) {
  using namespace oa;
  const Device device = args.runtime.apply();
  OA_CHECK(args.epochs >= 1, "--epochs must be at least 1, got {}", args.epochs);
  OA_CHECK(args.batch_size >= 1, "--batch-size must be at least 1, got {}", args.batch_size);
  const fs::path out = args.out;
  const fs::path checkpoint = out / "checkpoint.safetensors";
  OA_CHECK(args.out.empty() || args.resume || !fs::exists(checkpoint),
           "{} already holds a checkpoint: pass --resume to continue it, or choose another --out", args.out);

  const data::Dataset train = experiments::load_dataset(args.data, "train");
  experiments::DataChoice test_choice = args.data;
  test_choice.limit = args.limit_test;
  const data::Dataset test = experiments::load_dataset(test_choice, "test");
  const models::ModelConfig config{.name = args.model,
                                   .in_channels = train.images.size(1),
                                   .image_size = train.images.size(2),
                                   .classes = train.classes,
                                   .width = args.width};
  std::printf("data: %s, %lld train / %lld test images of %lldx%lldx%lld, %lld classes (labels: %s)\n",
              args.data.name.c_str(), (long long)train.size(), (long long)test.size(), (long long)config.in_channels,
              (long long)config.image_size, (long long)train.images.size(3), (long long)config.classes,
              args.data.labels.c_str());

  Rng rng(args.seed);
  auto model = models::make_model(config, rng);
  model->to(device);  // before the optimiser sees the parameters, so its state lives there too
  std::int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  optim::SGD optimizer(model->parameters(), {.lr = args.lr, .momentum = args.momentum,
                                             .weight_decay = args.weight_decay, .nesterov = args.nesterov});

  int start_epoch = 0;
  nlohmann::json history = nlohmann::json::array();
  if (args.resume && fs::exists(checkpoint)) {
    const nlohmann::json meta = io::load_checkpoint(checkpoint.string(), *model);
    OA_CHECK(meta.value("architecture", "") == args.model, "{}: holds a {}, but --model is {}", checkpoint.string(),
             meta.value("architecture", "?"), args.model);
    experiments::load_optimizer_state(out, std::to_string(meta["epoch"].get<int>()), optimizer, checkpoint);
    OA_CHECK(meta.value("epochs", args.epochs) == args.epochs && meta.value("schedule", args.schedule) == args.schedule,
             "{}: that run had --epochs {} --schedule {}; resume with the same values (the schedule spans the whole run)",
             checkpoint.string(), meta.value("epochs", 0), meta.value("schedule", std::string("?")));
    start_epoch = meta["epoch"].get<int>();
    history = meta.value("history", nlohmann::json::array());
    std::printf("resume: %s after epoch %d\n", checkpoint.string().c_str(), start_epoch);
  }
  dist::broadcast_module(*model);  // every rank starts from rank 0's model
  std::printf("model: %s (width %lld), %lld parameters; device %s; %d threads; BLAS kernels %s\n", args.model.c_str(),
              (long long)args.width, (long long)parameters, args.runtime.device.c_str(), args.runtime.threads,
              blas_kernels().c_str());

  data::BatchLoader loader(train, {.batch_size = args.batch_size,
                                   .seed = args.seed,
                                   .augmentation = {.crop_padding = args.crop_padding, .horizontal_flip = args.flip}});
  const std::int64_t steps_per_epoch = loader.batches_per_epoch();
  const std::int64_t total_steps = steps_per_epoch * args.epochs;
  const int last_epoch = args.stop_after > 0 ? std::min(args.epochs, start_epoch + args.stop_after) : args.epochs;
  for (int epoch = start_epoch; epoch < last_epoch; ++epoch) {
    const std::int64_t first_step = epoch * steps_per_epoch;
    const auto lr_at = [&](std::int64_t step) {
      return optim::scheduled_lr(args.schedule, first_step + step, total_steps, args.lr);
    };
    const auto tr = experiments::train_epoch(*model, optimizer, loader, epoch,
                                             {.lr_at = lr_at,
                                              .label_smoothing = args.label_smoothing,
                                              .label = fmt::format("epoch {}/{} train", epoch + 1, args.epochs),
                                              .simulated_ranks = args.simulate_ranks});
    const auto te = experiments::evaluate(*model, test, 500, fmt::format("epoch {}/{} test ", epoch + 1, args.epochs));
    std::printf("epoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | %.0f img/s\n", epoch + 1,
                args.epochs, tr.loss, 100 * tr.accuracy, te.loss, 100 * te.accuracy, tr.images_per_second());
    if (dist::world_size() > 1)
      std::printf("ranks: %d; gradient all-reduce and buffer broadcast %.2f ms per step (%.1f%% of the epoch)\n",
                  dist::world_size(), 1e3 * tr.communication_seconds / std::max<std::int64_t>(1, tr.steps),
                  100 * tr.communication_seconds / std::max(1e-9, tr.seconds));
    std::fflush(stdout);
    history.push_back({{"epoch", epoch + 1},
                       {"lr", optimizer.lr()},
                       {"train_loss", tr.loss},
                       {"train_accuracy", tr.accuracy},
                       {"test_loss", te.loss},
                       {"test_accuracy", te.accuracy},
                       {"train_images_per_second", tr.images_per_second()},
                       {"seconds", tr.seconds + te.seconds}});
    if (args.out.empty() || dist::rank() != 0) continue;  // rank 0 writes, the others hold the same model
    const nlohmann::json meta = {{"dataset", args.data.name},  {"labels", args.data.labels}, {"seed", args.seed},
                                 {"epoch", epoch + 1},         {"epochs", args.epochs},      {"lr", args.lr},
                                 {"schedule", args.schedule},  {"batch_size", args.batch_size},
                                 {"data_parallel_ranks", std::max(dist::world_size(), args.simulate_ranks)},
                                 {"train_accuracy", tr.accuracy}, {"test_accuracy", te.accuracy},
                                 {"sparsity", 0.0},            {"history", history}};
    nlohmann::json summary = meta;
    summary["model"] = args.model;
    summary["parameters"] = parameters;
    summary["threads"] = args.runtime.threads;
    summary["device"] = args.runtime.device;
    // The checkpoint last: it is what --resume continues from, so the files of an epoch killed
    // before its checkpoint are written again when the epoch runs again.
    experiments::save_with_optimizer_state(out, std::to_string(epoch + 1), optimizer, [&] {
      io::write_file_atomic((out / "history.csv").string(), history_csv(history));
      io::write_file_atomic((out / "summary.json").string(), summary.dump(2) + "\n");
      experiments::save_model(checkpoint.string(), *model, config, meta);
    });
  }
  OA_CHECK(!history.empty(), "no epoch ran: the run in {} is already complete", args.out);
  const auto& last = history.back();
  std::printf("final: train accuracy %.2f%%, test accuracy %.2f%%\n", 100 * last["train_accuracy"].get<double>(),
              100 * last["test_accuracy"].get<double>());
  if (!args.out.empty()) std::printf("wrote %s/{checkpoint.safetensors,history.csv,summary.json}\n", args.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  Args args;
  CLI::App app{"Train a model on an image data set; checkpoints every epoch and resumes after a kill."};
  app.add_option("--model", args.model, "small-cnn, resnet20/32/44/56/110 (CIFAR style), resnet18/34/50/101/152")
      ->capture_default_str();
  app.add_option("--width", args.width, "Width multiplier of the CIFAR-style ResNets")->capture_default_str();
  app.add_option("--data", args.data.name, "fashion-mnist, mnist, cifar10 or image-folder")->capture_default_str();
  app.add_option("--data-dir", args.data.dir, "Directory of the data set (default: the data set's own)");
  app.add_option("--labels", args.data.labels, "true, or parity: label = index % 2 (memorisation control)")
      ->capture_default_str();
  app.add_option("--image-size", args.data.image_size, "image-folder: centre-crop side")->capture_default_str();
  app.add_option("--limit-train", args.data.limit, "Use only the first N training images (0: all)");
  app.add_option("--limit-test", args.limit_test, "Use only the first N test images (0: all)");
  app.add_option("--out", args.out, "Output directory (checkpoint, history.csv, summary.json)");
  app.add_flag("--resume", args.resume, "Continue the run in --out from its last finished epoch");
  app.add_option("--epochs", args.epochs, "Training epochs")->capture_default_str();
  app.add_option("--stop-after", args.stop_after,
                 "Stop after this many epochs of this invocation; --resume continues (0: run to the end)");
  app.add_option("--batch-size", args.batch_size, "Images per step")->capture_default_str();
  app.add_option("--lr", args.lr, "Peak learning rate")->capture_default_str()->check(oa::experiments::kFiniteNonNegative);
  app.add_option("--schedule", args.schedule, "one-cycle, cosine or constant (per step)")->capture_default_str();
  app.add_option("--momentum", args.momentum, "SGD momentum")->capture_default_str()->check(oa::experiments::kFiniteNonNegative);
  app.add_option("--nesterov", args.nesterov, "Nesterov momentum (true/false)")->capture_default_str();
  app.add_option("--weight-decay", args.weight_decay, "L2 weight decay")->capture_default_str()->check(oa::experiments::kFiniteNonNegative);
  app.add_option("--label-smoothing", args.label_smoothing, "Cross-entropy label smoothing")->capture_default_str();
  app.add_option("--crop-padding", args.crop_padding, "Random-crop augmentation padding (0: off)")
      ->capture_default_str();
  app.add_option("--flip", args.flip, "Random horizontal flips (true/false)")->capture_default_str();
  app.add_option("--seed", args.seed, "Seed of initialisation, shuffling and augmentation")->capture_default_str();
  oa::experiments::add_simulate_ranks_flag(app, args.simulate_ranks);
  args.runtime.add_to(app);
  return oa::experiments::run_cli(app, argc, argv, "run_train", [&] { return run(args); });
}
