// run_train: train a model on an image data set and report train/test accuracy.
//   run_train --model small-cnn --data fashion-mnist --epochs 1 --out runs/small
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "experiments/common/training.h"
#include "framework/data/idx.h"
#include "framework/io/atomic_file.h"
#include "framework/util/runtime.h"
#include "models/small_cnn.h"

namespace {

struct Args {
  std::string model = "small-cnn";
  std::string data = "fashion-mnist";
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string out;
  int epochs = 1;
  std::int64_t batch_size = 128;
  double lr = 0.05, momentum = 0.9, weight_decay = 5e-4;
  bool nesterov = true;
  std::uint64_t seed = 0;
  int threads = 2;
  std::int64_t limit_train = 0, limit_test = 0;
};

int run(const Args& args) {
  using namespace oa;
  set_num_threads(args.threads);
  OA_CHECK(args.data == "fashion-mnist", "--data: only 'fashion-mnist' is available so far, got '{}'", args.data);
  OA_CHECK(args.model == "small-cnn", "--model: only 'small-cnn' is available so far, got '{}'", args.model);
  OA_CHECK(args.epochs >= 1, "--epochs must be at least 1, got {}", args.epochs);

  const data::Dataset train = data::head(data::load_fashion_mnist(args.data_dir, "train"), args.limit_train);
  const data::Dataset test = data::head(data::load_fashion_mnist(args.data_dir, "test"), args.limit_test);
  std::printf("data: %s %lld train / %lld test images of %s\n", args.data.c_str(), (long long)train.size(),
              (long long)test.size(), shape_str(Shape(train.images.shape().begin() + 1, train.images.shape().end())).c_str());

  Rng rng(args.seed);
  auto model = models::make_small_cnn(train.images.size(1), train.images.size(2), train.classes, rng);
  std::int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  std::printf("model: %s, %lld parameters; %d threads; BLAS kernels %s\n", args.model.c_str(), (long long)parameters,
              args.threads, blas_kernels().c_str());

  optim::SGD optimizer(model->parameters(), {.lr = args.lr, .momentum = args.momentum,
                                             .weight_decay = args.weight_decay, .nesterov = args.nesterov});
  const experiments::TrainOptions options{.batch_size = args.batch_size, .seed = args.seed};
  const std::int64_t steps_per_epoch = (train.size() + args.batch_size - 1) / args.batch_size;
  nlohmann::json history = nlohmann::json::array();
  experiments::EpochStats train_stats, test_stats;
  for (int epoch = 0; epoch < args.epochs; ++epoch) {
    // Cosine schedule over the whole run, evaluated once per epoch (step-level in later issues).
    optimizer.set_lr(0.5 * args.lr * (1 + std::cos(M_PI * epoch / args.epochs)));
    train_stats = experiments::train_epoch(*model, optimizer, train, options, epoch,
                                           fmt::format("epoch {}/{} train", epoch + 1, args.epochs));
    test_stats = experiments::evaluate(*model, test, 512, fmt::format("epoch {}/{} test ", epoch + 1, args.epochs));
    std::printf("epoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | %.0f img/s, %lld steps\n",
                epoch + 1, args.epochs, train_stats.loss, 100 * train_stats.accuracy, test_stats.loss,
                100 * test_stats.accuracy, train_stats.images_per_second(), (long long)steps_per_epoch);
    history.push_back({{"epoch", epoch + 1},
                       {"lr", optimizer.lr()},
                       {"train_loss", train_stats.loss},
                       {"train_accuracy", train_stats.accuracy},
                       {"test_loss", test_stats.loss},
                       {"test_accuracy", test_stats.accuracy},
                       {"train_images_per_second", train_stats.images_per_second()}});
  }
  std::printf("final: train accuracy %.2f%%, test accuracy %.2f%%\n", 100 * train_stats.accuracy,
              100 * test_stats.accuracy);
  if (!args.out.empty()) {
    const nlohmann::json summary = {{"model", args.model},     {"data", args.data},         {"seed", args.seed},
                                    {"epochs", args.epochs},   {"batch_size", args.batch_size}, {"lr", args.lr},
                                    {"threads", args.threads}, {"parameters", parameters},  {"history", history},
                                    {"train_accuracy", train_stats.accuracy}, {"test_accuracy", test_stats.accuracy}};
    io::write_file_atomic(args.out + "/summary.json", summary.dump(2) + "\n");
    std::printf("wrote %s/summary.json\n", args.out.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  Args args;
  CLI::App app{"Train a model on an image data set and report train and test accuracy."};
  app.add_option("--model", args.model, "Architecture")->capture_default_str();
  app.add_option("--data", args.data, "Data set")->capture_default_str();
  app.add_option("--data-dir", args.data_dir, "Directory with the data set's files")->capture_default_str();
  app.add_option("--out", args.out, "Output directory for summary.json (none: print only)");
  app.add_option("--epochs", args.epochs, "Training epochs")->capture_default_str();
  app.add_option("--batch-size", args.batch_size, "Images per step")->capture_default_str();
  app.add_option("--lr", args.lr, "Peak learning rate (cosine schedule)")->capture_default_str();
  app.add_option("--momentum", args.momentum, "SGD momentum")->capture_default_str();
  app.add_option("--weight-decay", args.weight_decay, "L2 weight decay")->capture_default_str();
  app.add_option("--nesterov", args.nesterov, "Nesterov momentum (true/false)")->capture_default_str();
  app.add_option("--seed", args.seed, "Seed of initialisation and shuffling")->capture_default_str();
  app.add_option("--threads", args.threads, "CPU threads")->capture_default_str();
  app.add_option("--limit-train", args.limit_train, "Use only the first N training images (0: all)");
  app.add_option("--limit-test", args.limit_test, "Use only the first N test images (0: all)");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "run_train: error: %s\n", e.what());
    return 1;
  }
}
