// run_eval: evaluate a checkpoint on a data split, or on an .npy array of inputs.
//   run_eval --model runs/resnet20/checkpoint.safetensors --split test
//   run_eval --model CKPT --input x.npy --dump-logits logits.npy
// Inputs are NCHW float32 in [0, 1]. With --input there are no labels, so only the logits
// (and each row's predicted class) are reported.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "experiments/common/cli.h"
#include "experiments/common/datasets.h"
#include "experiments/common/model_io.h"
#include "experiments/common/training.h"
#include "framework/autograd/node.h"
#include "framework/io/atomic_file.h"
#include "framework/io/npy.h"
#include "framework/prune/to_sparse.h"
#include "framework/util/runtime.h"

namespace {

struct Args {
  std::string checkpoint, split = "test", input, dump_logits, out;
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

int run(const Args& args) {
  using namespace oa;
  const Device device = args.runtime.apply();
  auto loaded = experiments::load_frozen_model(args.checkpoint);
  loaded.model->to(device);
  std::printf("model: %s from %s\n", loaded.config.name.c_str(), args.checkpoint.c_str());
  if (args.sparse_threshold <= 1.0) {  // pruned convs swapped for sparse ones (prune/to_sparse.h)
    const std::size_t sparse_layers = prune::to_sparse(*loaded.model, args.sparse_threshold);
    std::printf("sparse path: %zu conv layers with at least %g zeros\n", sparse_layers, args.sparse_threshold);
  }
  Tensor inputs;
  nlohmann::json summary = {{"checkpoint", args.checkpoint}, {"architecture", loaded.config.name}};
  if (!args.input.empty()) {
    inputs = io::read_npy(args.input);
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
  } else {
    OA_CHECK(args.split == "train" || args.split == "test", "--split must be train or test, got '{}'", args.split);
    experiments::DataChoice choice = args.data;
    if (choice.name.empty()) choice.name = loaded.metadata.value("dataset", "fashion-mnist");
    if (loaded.metadata.contains("labels") && args.data.labels == "true")
      choice.labels = loaded.metadata["labels"].get<std::string>();
    const data::Dataset d = experiments::load_dataset(choice, args.split);
    experiments::check_data_fits(loaded.config, d);
    const auto stats = experiments::evaluate(*loaded.model, d, args.batch_size, "eval " + args.split);
    std::printf("%s %s: loss %.4f, accuracy %.2f%% on %lld images\n", choice.name.c_str(), args.split.c_str(),
                stats.loss, 100 * stats.accuracy, (long long)d.size());
    summary.update({{"dataset", choice.name}, {"split", args.split}, {"labels", choice.labels},
                    {"loss", stats.loss},     {"accuracy", stats.accuracy}, {"samples", d.size()}});
    inputs = d.images;
  }
  if (!args.dump_logits.empty()) {
    io::write_npy(args.dump_logits, all_logits(*loaded.model, inputs, args.batch_size));
    std::printf("wrote logits of %lld inputs to %s\n", (long long)inputs.size(0), args.dump_logits.c_str());
  }
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
  return oa::experiments::run_cli(app, argc, argv, "run_eval", [&] { return run(args); });
}
