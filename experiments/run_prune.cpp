// run_prune: the capacity ladder. Prunes a trained model further and further, fine-tunes
// each rung, and measures it.
//   run_prune --from models/weights/resnet20-fashion-mnist/checkpoint.safetensors
//             --sparsity 0.5,0.7,0.9,0.95,0.98 --method global --finetune-epochs 1 --out runs/ladder
// Rung r starts from rung r-1 (the dense model for the first): pruning is monotone, so each
// rung's pruned weights include the previous rung's.
//   --method global|layer: unstructured magnitude pruning, one threshold across layers or the
//     same fraction per layer; the rung's sparsity is the fraction of zero weights among the
//     pruned layers (the first conv stays dense by default: --keep-first-dense).
//   --method filter: whole channels removed by L1 norm inside each residual block; the rung's
//     sparsity is the fraction of those channels removed (the layers shrink for real).
//   --schedule oneshot: prune to the rung's sparsity, then fine-tune;
//   --schedule cubic: Zhu & Gupta's gradual schedule from the previous rung's sparsity to this
//     one's over the first half of the fine-tuning steps, pruning every --prune-every steps.
// --arch resnet50 (...) reads a --from file without our metadata (a torchvision state_dict saved
// as safetensors); the rungs' checkpoints carry the metadata, so later tools need no --arch.
// DIR receives rung-<s>/checkpoint.safetensors (masks and widths included), per rung and for
// the dense model train_predictions.npy (the predicted class of every training sample, int64)
// and capacity.json (per-layer parameters and FLOPs), and ladder.csv + ladder.json (one row
// per rung: sparsity (the fraction of the dense model's conv and linear weights that are zero
// or removed), nonzero parameters, FLOPs, train and test accuracy, and how many
// training samples the dense model A gets right and the rung B gets wrong: the OutlierAttack's
// candidates). Everything is written atomically after each rung; --resume continues an
// interrupted ladder at the first unfinished rung.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "experiments/common/cli.h"
#include "experiments/common/datasets.h"
#include "experiments/common/ladder.h"
#include "experiments/common/model_io.h"
#include "experiments/common/training.h"
#include "framework/io/atomic_file.h"
#include "framework/io/npy.h"
#include "framework/optim/schedule.h"
#include "framework/prune/filter.h"
#include "framework/prune/magnitude.h"
#include "framework/prune/masks.h"
#include "framework/prune/schedule.h"
#include "framework/util/runtime.h"

namespace fs = std::filesystem;
using oa::experiments::NonNegative;
using oa::experiments::Positive;

namespace {

struct Args {
  std::string from, arch, out, method = "global", schedule = "oneshot", data_dir;
  std::vector<double> sparsities{0.5, 0.7, 0.9, 0.95, 0.98};
  int finetune_epochs = 1, simulate_ranks = 1;
  double lr = 0.01, momentum = 0.9, weight_decay = 5e-4;
  bool nesterov = true, keep_first_dense = true, keep_last_dense = false, flip = true, resume = false;
  std::int64_t batch_size = 128, crop_padding = 2, prune_every = 50, limit_train = 0, limit_test = 0;
  std::uint64_t seed = 0;
  oa::experiments::RuntimeOptions runtime;
};

// The options a resumed ladder must share with the run it continues. --arch only where given
// (a bare --from file), so that the ladders written before it was recorded still resume.
// The rank count (or --simulate-ranks) is not among them: the ladder is the same whatever it is.
nlohmann::json ladder_options(const Args& a) {
  nlohmann::json options = {{"from", a.from},
                            {"method", a.method},
                            {"schedule", a.schedule},
                            {"sparsities", a.sparsities},
                            {"finetune_epochs", a.finetune_epochs},
                            {"lr", a.lr},
                            {"momentum", a.momentum},
                            {"weight_decay", a.weight_decay},
                            {"nesterov", a.nesterov},
                            {"batch_size", a.batch_size},
                            {"crop_padding", a.crop_padding},
                            {"flip", a.flip},
                            {"keep_first_dense", a.keep_first_dense},
                            {"keep_last_dense", a.keep_last_dense},
                            {"prune_every", a.prune_every},
                            {"limit_train", a.limit_train},
                            {"limit_test", a.limit_test},
                            {"seed", a.seed}};
  if (!a.arch.empty()) options["arch"] = a.arch;
  return options;
}

class Ladder {
 public:
  Ladder(Args args) : args_(std::move(args)), out_(args_.out) {}
  int run();

 private:
  // Prunes `model` (at `previous` sparsity) to `target` and fine-tunes it.
  void prune_and_finetune(oa::nn::Module& model, std::size_t rung, double previous, double target);
  // Evaluates and records a model: the dense one (rung 0) or a pruned rung.
  nlohmann::json measure(oa::nn::Module& model, const std::string& name, double target, double seconds,
                         std::vector<std::int64_t>& train_predictions);
  void write_ladder() const;

  Args args_;
  fs::path out_;
  oa::experiments::LoadedModel dense_;
  oa::Device device_ = oa::Device::CPU;  // where the models prune, fine-tune and predict
  oa::data::Dataset train_, test_;
  std::map<std::string, std::int64_t> original_widths_;
  std::vector<std::int64_t> dense_predictions_;
  nlohmann::json rows_ = nlohmann::json::array();
};

void Ladder::prune_and_finetune(oa::nn::Module& model, std::size_t rung, double previous, double target) {
  using namespace oa;
  const prune::MagnitudeOptions magnitude{.scope = args_.method == "layer" ? prune::Scope::Layer : prune::Scope::Global,
                                          .keep_first_dense = args_.keep_first_dense,
                                          .keep_last_dense = args_.keep_last_dense};
  const auto prune_to = [&](double sparsity) {
    auto options = magnitude;
    options.sparsity = sparsity;
    prune::magnitude_prune(model, options);
  };
  const bool gradual = args_.schedule == "cubic" && args_.finetune_epochs > 0;
  if (args_.method == "filter")
    prune::filter_prune(model, target, original_widths_);
  else
    prune_to(gradual ? previous : target);  // gradual: the masks exist from the start, at the old sparsity
  if (args_.finetune_epochs == 0) return;

  optim::SGD optimizer(model.parameters(), {.lr = args_.lr, .momentum = args_.momentum,
                                            .weight_decay = args_.weight_decay, .nesterov = args_.nesterov});
  optimizer.set_masks(prune::parameter_masks(model));
  data::BatchLoader loader(train_, {.batch_size = args_.batch_size,
                                    .seed = args_.seed + rung,
                                    .augmentation = {.crop_padding = args_.crop_padding, .horizontal_flip = args_.flip}});
  const std::int64_t steps_per_epoch = loader.batches_per_epoch(), total = steps_per_epoch * args_.finetune_epochs;
  const std::int64_t ramp = total / 2;  // cubic: the sparsity reaches the target half way
  for (int epoch = 0; epoch < args_.finetune_epochs; ++epoch) {
    const std::int64_t first = epoch * steps_per_epoch;
    const auto lr_at = [&](std::int64_t step) { return optim::scheduled_lr("cosine", first + step, total, args_.lr); };
    const auto before_step = [&](std::int64_t step) {
      const std::int64_t t = first + step;
      if (gradual && t <= ramp && (t % args_.prune_every == 0 || t == ramp))
        prune_to(prune::cubic_sparsity(previous, target, t, ramp));
    };
    experiments::train_epoch(
        model, optimizer, loader, epoch,
        {.lr_at = lr_at,
         .label = fmt::format("{} fine-tune {}/{}", experiments::rung_name(target), epoch + 1, args_.finetune_epochs),
         .before_step = before_step,
         .simulated_ranks = args_.simulate_ranks});
  }
  if (gradual) prune_to(target);  // exact, even when the ramp is shorter than one pruning interval
}

nlohmann::json Ladder::measure(oa::nn::Module& model, const std::string& name, double target, double seconds,
                               std::vector<std::int64_t>& train_predictions) {
  const std::int64_t dense_weights = rows_.empty() ? 0 : rows_[0]["weights"].get<std::int64_t>();
  return oa::experiments::measure_rung(model, name, target, seconds, train_, test_, dense_weights, dense_predictions_,
                                       out_ / name, train_predictions);
}

void Ladder::write_ladder() const {
  if (oa::dist::rank() != 0) return;  // every rank holds the same ladder: rank 0 writes it
  const nlohmann::json ladder = {{"options", ladder_options(args_)}, {"rungs", rows_}};
  oa::io::write_file_atomic((out_ / "ladder.json").string(), ladder.dump(2) + "\n");
  oa::io::write_file_atomic((out_ / "ladder.csv").string(),
                            oa::experiments::ladder_csv(rows_, oa::experiments::kLadderColumns));
}

int Ladder::run() {
  using namespace oa;
  device_ = args_.runtime.apply();
  OA_CHECK(args_.method == "global" || args_.method == "layer" || args_.method == "filter",
           "--method must be global, layer or filter, got '{}'", args_.method);
  OA_CHECK(args_.schedule == "oneshot" || args_.schedule == "cubic", "--schedule must be oneshot or cubic, got '{}'",
           args_.schedule);
  OA_CHECK(args_.method != "filter" || args_.schedule == "oneshot",
           "--schedule cubic applies to global and layer pruning; filter pruning is one-shot");
  OA_CHECK(!args_.sparsities.empty(), "--sparsity needs at least one value");
  for (std::size_t i = 0; i < args_.sparsities.size(); ++i)
    OA_CHECK(args_.sparsities[i] > 0 && args_.sparsities[i] < 1 && (i == 0 || args_.sparsities[i] > args_.sparsities[i - 1]),
             "--sparsity must rise strictly inside (0, 1): got {} at position {}", args_.sparsities[i], i + 1);
  OA_CHECK(!args_.out.empty(), "--out is required");

  // Resume: the ladder.json of an earlier run with the same options.
  const fs::path ladder_path = out_ / "ladder.json";
  if (fs::exists(ladder_path)) {
    OA_CHECK(args_.resume, "{} exists: pass --resume to continue that ladder, or choose another --out",
             ladder_path.string());
    std::ifstream in(ladder_path);
    const auto saved = nlohmann::json::parse(in, nullptr, false);
    OA_CHECK(!saved.is_discarded() && saved.contains("options") && saved.contains("rungs"),
             "{}: not a ladder.json of run_prune", ladder_path.string());
    OA_CHECK(saved["options"] == ladder_options(args_), "{}: that ladder ran with other options ({}); resume with "
             "the same ones", ladder_path.string(), saved["options"].dump());
    rows_ = saved["rungs"];
  }
  oa::dist::barrier();  // every rank has looked for an earlier ladder before rank 0 writes one
  dense_ = experiments::load_model(args_.from, args_.arch);
  dense_.model->to(device_);
  experiments::DataChoice choice{.name = dense_.metadata.value("dataset", std::string("fashion-mnist")),
                                 .dir = args_.data_dir,
                                 .labels = dense_.metadata.value("labels", std::string("true")),
                                 .limit = args_.limit_train};
  train_ = experiments::load_dataset(choice, "train");
  choice.limit = args_.limit_test;
  test_ = experiments::load_dataset(choice, "test");
  experiments::check_data_fits(dense_.config, train_);
  fs::create_directories(out_);  // only once the model and the data are known to be good
  original_widths_ = prune::chain_widths(*dense_.model);
  std::printf("ladder: %s (%s), method %s, schedule %s, %d fine-tune epoch(s) per rung, %lld train / %lld test "
              "samples; BLAS kernels %s\n",
              args_.from.c_str(), dense_.config.name.c_str(), args_.method.c_str(), args_.schedule.c_str(),
              args_.finetune_epochs, (long long)train_.size(), (long long)test_.size(), blas_kernels().c_str());

  if (rows_.empty()) {
    std::printf("dense model A:\n");
    rows_.push_back(measure(*dense_.model, "dense", 0.0, 0.0, dense_predictions_));
    write_ladder();
  } else {
    dense_predictions_ = io::read_npy((out_ / "dense" / "train_predictions.npy").string()).to_vector<std::int64_t>();
    OA_CHECK(dense_predictions_.size() == static_cast<std::size_t>(train_.size()),
             "{}: {} predictions for {} training samples", (out_ / "dense" / "train_predictions.npy").string(),
             dense_predictions_.size(), train_.size());
    write_ladder();  // ladder.csv again too, should a kill have come between the two files
  }
  // The model to prune next: the last finished rung, or A.
  const std::size_t done = rows_.size() - 1;
  auto model = dense_.model;
  if (done > 0) {
    const auto last = out_ / experiments::rung_name(args_.sparsities[done - 1]) / "checkpoint.safetensors";
    model = experiments::load_model(last.string()).model;
    model->to(device_);
    std::printf("resume: %zu of %zu rungs done, continuing from %s\n", done, args_.sparsities.size(),
                last.string().c_str());
  }
  for (std::size_t r = done; r < args_.sparsities.size(); ++r) {
    const double target = args_.sparsities[r], previous = r == 0 ? 0.0 : args_.sparsities[r - 1];
    const auto start = std::chrono::steady_clock::now();
    std::printf("rung %zu/%zu: sparsity %g (%s)\n", r + 1, args_.sparsities.size(), target, args_.method.c_str());
    prune_and_finetune(*model, r, previous, target);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::vector<std::int64_t> predictions;
    auto row = measure(*model, experiments::rung_name(target), target, seconds, predictions);
    const nlohmann::json meta = {{"dataset", choice.name},           {"labels", choice.labels},
                                 {"parent", args_.from},             {"method", args_.method},
                                 {"schedule", args_.schedule},       {"sparsity_target", target},
                                 {"sparsity", row["sparsity"]},      {"finetune_epochs", args_.finetune_epochs},
                                 {"train_accuracy", row["train_accuracy"]}, {"test_accuracy", row["test_accuracy"]},
                                 {"seed", args_.seed}};
    if (dist::rank() == 0)  // every rank holds the same model
      experiments::save_model((out_ / experiments::rung_name(target) / "checkpoint.safetensors").string(), *model,
                              dense_.config, meta);
    rows_.push_back(row);
    write_ladder();  // after the checkpoint: a row in ladder.json means its rung is complete
    std::printf("rung %g: sparsity %.4f, test %.2f%% (dense %.2f%%), train %.2f%%, A right & B wrong: %lld, %.0f s\n",
                target, row["sparsity"].get<double>(), 100 * row["test_accuracy"].get<double>(),
                100 * rows_[0]["test_accuracy"].get<double>(), 100 * row["train_accuracy"].get<double>(),
                (long long)row["a_right_b_wrong"].get<std::int64_t>(), seconds);
    std::fflush(stdout);
  }
  std::printf("\n%s", experiments::ladder_csv(rows_, experiments::kLadderColumns).c_str());
  std::printf("wrote %s/{ladder.csv,ladder.json} and one directory per rung\n", args_.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  Args args;
  CLI::App app{"The capacity ladder: prune a trained model further and further (magnitude or filter pruning), "
               "fine-tune and measure every rung; resumable."};
  app.add_option("--from", args.from, "The dense model A (checkpoint .safetensors)")->required();
  app.add_option("--arch", args.arch, std::string(oa::experiments::kArchHelp) + " (of --from)");
  app.add_option("--out", args.out, "Output directory (ladder.csv, ladder.json, rung-<s>/)")->required();
  app.add_option("--sparsity", args.sparsities, "Rising sparsities of the rungs, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--method", args.method, "global, layer (unstructured magnitude) or filter (channels)")
      ->capture_default_str();
  app.add_option("--schedule", args.schedule, "oneshot, or cubic (gradual, Zhu & Gupta 2017)")->capture_default_str();
  app.add_option("--prune-every", args.prune_every, "cubic: steps between mask updates")
      ->capture_default_str()
      ->check(Positive);
  app.add_option("--finetune-epochs", args.finetune_epochs, "Fine-tuning epochs per rung (0: prune only)")
      ->capture_default_str()
      ->check(NonNegative);
  app.add_option("--keep-first-dense", args.keep_first_dense, "Leave the first conv dense (true/false)")
      ->capture_default_str();
  app.add_option("--keep-last-dense", args.keep_last_dense, "Leave the classifier dense (true/false)")
      ->capture_default_str();
  app.add_option("--lr", args.lr, "Fine-tuning learning rate (cosine to 0 over each rung)")
      ->capture_default_str()
      ->check(Positive);
  app.add_option("--momentum", args.momentum, "SGD momentum")
      ->capture_default_str()
      ->check(NonNegative);
  app.add_option("--nesterov", args.nesterov, "Nesterov momentum (true/false)")->capture_default_str();
  app.add_option("--weight-decay", args.weight_decay, "L2 weight decay")
      ->capture_default_str()
      ->check(NonNegative);
  app.add_option("--batch-size", args.batch_size, "Images per step")
      ->capture_default_str()
      ->check(Positive);
  app.add_option("--crop-padding", args.crop_padding, "Random-crop augmentation padding (0: off)")
      ->capture_default_str()
      ->check(NonNegative);
  app.add_option("--flip", args.flip, "Random horizontal flips (true/false)")->capture_default_str();
  app.add_option("--data-dir", args.data_dir, "Directory of the data set (default: the data set's own)");
  app.add_option("--limit-train", args.limit_train, "Use only the first N training images (0: all)")
      ->check(NonNegative);
  app.add_option("--limit-test", args.limit_test, "Use only the first N test images (0: all)")
      ->check(NonNegative);
  app.add_option("--seed", args.seed, "Seed of shuffling and augmentation")->capture_default_str();
  oa::experiments::add_simulate_ranks_flag(app, args.simulate_ranks);
  app.add_flag("--resume", args.resume, "Continue the ladder in --out at its first unfinished rung");
  args.runtime.add_to(app);
  return oa::experiments::run_cli(app, argc, argv, "run_prune", [&] { return Ladder(args).run(); });
}
