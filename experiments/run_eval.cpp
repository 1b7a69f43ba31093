// run_eval: evaluate a checkpoint on a data split, or on an .npy array of inputs.
//   run_eval --model runs/resnet20/checkpoint.safetensors --split test
//   run_eval --model CKPT --input x.npy --dump-logits logits.npy
//   run_eval --model resnet50.safetensors --arch resnet50 --data image-folder --data-dir IMAGENET
//     (a torchvision state_dict saved as safetensors, without our metadata)
// Inputs are NCHW float32 in [0, 1]. With --input there are no labels, so only the logits
// (and each row's predicted class) are reported.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

#include "experiments/common/cli.h"
#include "experiments/common/datasets.h"
#include "experiments/common/model_io.h"
#include "experiments/common/training.h"
#include "framework/autograd/node.h"
#include "framework/data/loader.h"
#include "framework/io/atomic_file.h"
#include "framework/io/npy.h"
#include "framework/ops/ops.h"
#include "framework/prune/to_sparse.h"
#include "framework/util/runtime.h"

namespace {

struct Args {
  std::string checkpoint, arch, split = "test", input, dump_logits, out;
  oa::experiments::DataChoice data;
  std::int64_t batch_size = 500;
  double sparse_threshold = 2.0;  // above 1: never
  oa::experiments::RuntimeOptions runtime;
};

// The model's logits for every row of `inputs`, in batches, in eval mode.
oa::Tensor all_logits(oa::nn::Module& model, const oa::Tensor& inputs, std::int64_t batch_size) {
  model.eval();
  oa::NoGradGuard no_grad;
  std::vector<float> values;
  std::int64_t classes = 0;
  for (std::int64_t first = 0; first < inputs.size(0); first += batch_size) {
    std::vector<std::int64_t> rows;
    for (std::int64_t i = first; i < std::min(inputs.size(0), first + batch_size); ++i) rows.push_back(i);
    const oa::Tensor logits = model(oa::data::take_rows(inputs, rows).to(model.device()));
    classes = logits.size(1);
    const auto v = logits.to_vector<float>();
    values.insert(values.end(), v.begin(), v.end());
  }
  return oa::Tensor::from_vector(values, {inputs.size(0), classes});
}

// What one pass over a labelled split gives.
struct SplitResult {
  double loss = 0, accuracy = 0;  // mean cross-entropy, fraction classified right
  std::int64_t samples = 0;
  oa::Tensor logits;  // [samples, classes]
};

// The model over every batch next_batch() hands out, in eval mode: one forward pass per batch.
SplitResult evaluate_batches(oa::nn::Module& model, const std::function<std::optional<oa::data::Batch>()>& next_batch) {
  model.eval();
  oa::NoGradGuard no_grad;
  std::vector<float> values;
  std::int64_t classes = 0, correct = 0, samples = 0;
  double loss_sum = 0;
  while (const auto batch = next_batch()) {
    const oa::Tensor logits = model(batch->images.to(model.device())).to(oa::Device::CPU);
    const std::int64_t size = batch->labels.size(0);
    classes = logits.size(1);
    loss_sum += oa::cross_entropy(logits, batch->labels).item() * static_cast<double>(size);
    const auto predicted = oa::experiments::argmax_rows(logits);
    const auto labels = batch->labels.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted[i] == labels[i];
    samples += size;
    const auto v = logits.to_vector<float>();
    values.insert(values.end(), v.begin(), v.end());
  }
  OA_CHECK(samples > 0, "the split holds no samples");
  return {loss_sum / static_cast<double>(samples), static_cast<double>(correct) / static_cast<double>(samples),
          samples, oa::Tensor::from_vector(values, {samples, classes})};
}

int run(const Args& args) {
  using namespace oa;
  const Device device = args.runtime.apply();
  auto loaded = experiments::load_frozen_model(args.checkpoint, args.arch);
  loaded.model->to(device);
  std::printf("model: %s from %s\n", loaded.config.name.c_str(), args.checkpoint.c_str());
  if (args.sparse_threshold <= 1.0) {  // pruned convs swapped for sparse ones (prune/to_sparse.h)
    const std::size_t sparse_layers = prune::to_sparse(*loaded.model, args.sparse_threshold);
    std::printf("sparse path: %zu conv layers with at least %g zeros\n", sparse_layers, args.sparse_threshold);
  }
  nlohmann::json summary = {{"checkpoint", args.checkpoint},
                            {"architecture", loaded.config.name},
                            {"parameters", loaded.parameters}};
  if (!args.input.empty()) {
    const Tensor inputs = io::read_npy(args.input);
    OA_CHECK(inputs.dtype() == DType::Float32 && inputs.dim() == 4 && inputs.size(1) == loaded.config.in_channels,
             "{}: expected float32 [N, {}, H, W] inputs in [0, 1], got {}", args.input, loaded.config.in_channels,
             describe(inputs));
    OA_CHECK(inputs.size(0) > 0, "{}: holds no inputs ({})", args.input, describe(inputs));
    experiments::check_finite(inputs, args.input);
    const auto values = inputs.to_vector<float>();
    const auto [lowest, highest] = std::minmax_element(values.begin(), values.end());
    OA_CHECK(*lowest >= 0 && *highest <= 1, "{}: inputs must lie in [0, 1], found values from {} to {}", args.input,
             *lowest, *highest);
    summary["input"] = args.input;
    if (!args.dump_logits.empty()) io::write_npy(args.dump_logits, all_logits(*loaded.model, inputs, args.batch_size));
  } else {
    OA_CHECK(args.split == "train" || args.split == "test", "--split must be train or test, got '{}'", args.split);
    experiments::DataChoice choice = args.data;
    if (choice.name.empty()) choice.name = loaded.metadata.value("dataset", "fashion-mnist");
    if (loaded.metadata.contains("labels") && args.data.labels == "true")
      choice.labels = loaded.metadata["labels"].get<std::string>();
    // An image folder (ImageNet) is streamed with bounded memory; the others fit in memory, and
    // so does the memorisation control's image folder (index-parity labels: the stream keeps the
    // folder labels), read as far as --limit.
    std::unique_ptr<data::ImageFolderStream> stream;
    std::unique_ptr<data::BatchLoader> loader;
    std::function<std::optional<data::Batch>()> next_batch;
    if (choice.name == "image-folder" && choice.labels == "true") {
      stream = experiments::stream_image_folder(choice, args.split, args.batch_size);
      experiments::check_data_fits(loaded.config, choice.dir, stream->channels(),
                                   static_cast<std::int64_t>(stream->index().class_names.size()));
      next_batch = [&] { return stream->next(); };
    } else {
      const data::Dataset d = experiments::load_dataset(choice, args.split);
      experiments::check_data_fits(loaded.config, d);
      loader = std::make_unique<data::BatchLoader>(d, data::LoaderOptions{.batch_size = args.batch_size, .shuffle = false});
      loader->begin_epoch(0);
      next_batch = [&] { return loader->next(); };
    }
    const SplitResult result = evaluate_batches(*loaded.model, next_batch);
    std::printf("%s %s: loss %.4f, accuracy %.2f%% on %lld images\n", choice.name.c_str(), args.split.c_str(),
                result.loss, 100 * result.accuracy, (long long)result.samples);
    summary.update({{"dataset", choice.name}, {"split", args.split}, {"labels", choice.labels},
                    {"loss", result.loss},    {"accuracy", result.accuracy}, {"samples", result.samples}});
    if (!args.dump_logits.empty()) io::write_npy(args.dump_logits, result.logits);
  }
  if (!args.dump_logits.empty()) std::printf("wrote the logits to %s\n", args.dump_logits.c_str());
  if (!args.out.empty()) io::write_file_atomic(args.out, summary.dump(2) + "\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  Args args;
  args.data.name = "";
  CLI::App app{"Evaluate a checkpoint on a data split or on an .npy array of inputs."};
  app.add_option("--model", args.checkpoint, "Checkpoint (.safetensors) written by run_train or the converter")
      ->required();
  app.add_option("--arch", args.arch, std::string(oa::experiments::kArchHelp) + " (of --model)");
  app.add_option("--split", args.split, "train or test")->capture_default_str();
  app.add_option("--data", args.data.name, "Data set (default: the one the checkpoint was trained on)");
  app.add_option("--data-dir", args.data.dir, "Directory of the data set");
  app.add_option("--labels", args.data.labels, "true or parity (default: as trained)");
  app.add_option("--limit", args.data.limit, "Only the first N samples of the split (0: all)")
      ->check(oa::experiments::NonNegative);
  app.add_option("--input", args.input, "Evaluate these NCHW float32 inputs (.npy) instead of a split");
  app.add_option("--dump-logits", args.dump_logits, "Write the logits as float32 [N, classes] .npy");
  app.add_option("--out", args.out, "Write a JSON summary here");
  app.add_option("--batch-size", args.batch_size, "Images per forward pass")
      ->capture_default_str()
      ->check(oa::experiments::Positive);
  app.add_option("--sparse", args.sparse_threshold,
                 "Run conv layers with at least this fraction of zero weights on the sparse path (e.g. 0.9)");
  args.runtime.add_to(app);
  return oa::experiments::run_cli(app, argc, argv, "run_eval", [&] {
    oa::experiments::check_single_rank("run_eval");
    return run(args);
  });
}
