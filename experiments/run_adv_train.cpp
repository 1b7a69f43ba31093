// run_adv_train: equal adversarial fine-tuning (Madry et al. 2017) of one model or of every
// model of a capacity ladder, and their robustness before and after.
//   run_adv_train --from models/weights/resnet20-fashion-mnist/checkpoint.safetensors
//                 --attack pgd-linf --eps 0.1 --steps 7 --adv-examples 60000 --out runs/adv
//   run_adv_train --ladder models/weights/resnet20-fashion-mnist-ladder-global --out runs/adv-ladder ...
// Every model sees exactly --adv-examples adversarial examples, counted one by one: each step
// replaces a --fraction of its batch by examples made against the model being trained
// (PGD-Linf, PGD-L2: the last iterate of --steps steps from a random start; or DDN, its example
// capped at L2 norm --eps), and the step that reaches the budget is cut to fit. Every model gets
// the same sample order, augmentation and random starts (--seed). Pruned weights stay zero
// (the masks travel with the checkpoint and hold in the optimiser); filter-pruned layers keep
// their widths.
// Before and after, on the first --robust-n test samples: clean accuracy, PGD robust accuracy at
// --eps (--robust-steps steps, --robust-restarts random starts; a sample counts when no restart
// breaks it) and the accuracy under random noise of the same norm and eps. PGD that does worse
// than noise is the sign of gradient masking (Carlini et al. 2019): a warning says so.
// Output, --from: DIR/checkpoint.safetensors, DIR/summary.json. --ladder: a sibling ladder
// with run_prune's layout (DIR/dense/, DIR/rung-*/ each with checkpoint.safetensors,
// summary.json, train_predictions.npy, capacity.json; DIR/ladder.json, DIR/ladder.csv with the
// new columns; DIR/summary.json), so run_cw and run_blackbox take its checkpoints unchanged.
// A torchvision state_dict saved as safetensors without our metadata loads with --arch
// (resnet50, ...); what this writes carries the metadata, so later tools need no --arch.
// Every --checkpoint-every steps the model and optimiser state go atomically to <model>/partial/;
// --resume continues there and reproduces the uninterrupted run.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "experiments/common/adversarial_training.h"
#include "experiments/common/cli.h"
#include "experiments/common/datasets.h"
#include "experiments/common/ladder.h"
#include "experiments/common/model_io.h"
#include "experiments/common/optimizer_state.h"
#include "framework/io/atomic_file.h"
#include "framework/io/checkpoint.h"
#include "framework/io/npy.h"
#include "framework/io/safetensors.h"
#include "framework/optim/schedule.h"
#include "framework/prune/filter.h"
#include "framework/prune/masks.h"
#include "framework/util/runtime.h"

namespace fs = std::filesystem;

namespace {

struct Args {
  std::string from, ladder, dense, arch, out, data_dir;
  oa::experiments::AdversarialRecipe recipe;
  double fraction = 1.0;
  std::int64_t adv_examples = 60000;
  double lr = 0.01, momentum = 0.9, weight_decay = 5e-4;
  std::string schedule = "cosine";
  bool nesterov = true, flip = true, resume = false;
  std::int64_t batch_size = 128, crop_padding = 2, limit_train = 0, limit_test = 0;
  std::int64_t robust_n = 1000, robust_steps = 50, robust_restarts = 3, noise_draws = 100, robust_batch_size = 250;
  std::int64_t checkpoint_every = 50;
  int stop_after = 0, simulate_ranks = 1;
  oa::experiments::RuntimeOptions runtime;
};

// The options a resumed run must share with the run it continues.
nlohmann::json run_options(const Args& a) {
  return {{"from", a.from},
          {"ladder", a.ladder},
          {"dense", a.dense},
          {"attack", a.recipe.attack},
          {"eps", a.recipe.eps},
          {"steps", a.recipe.steps},
          {"step_size", a.recipe.step_size},
          {"random_start", a.recipe.random_start},
          {"fraction", a.fraction},
          {"adv_examples", a.adv_examples},
          {"lr", a.lr},
          {"momentum", a.momentum},
          {"weight_decay", a.weight_decay},
          {"nesterov", a.nesterov},
          {"schedule", a.schedule},
          {"batch_size", a.batch_size},
          {"crop_padding", a.crop_padding},
          {"flip", a.flip},
          {"limit_train", a.limit_train},
          {"limit_test", a.limit_test},
          {"robust_n", a.robust_n},
          {"robust_steps", a.robust_steps},
          {"robust_restarts", a.robust_restarts},
          {"noise_draws", a.noise_draws},
          {"robust_batch_size", a.robust_batch_size},
          {"checkpoint_every", a.checkpoint_every},
          {"seed", a.recipe.seed}};
}

// The new columns of the ladder table, after run_prune's.
const std::vector<std::string> kAdversarialColumns = {
    "adv_examples",         "clean_accuracy_before", "robust_accuracy_before", "noise_accuracy_before",
    "clean_accuracy_after", "robust_accuracy_after", "noise_accuracy_after",   "train_seconds"};

nlohmann::json robustness_json(const oa::experiments::Robustness& r) {
  return {{"samples", r.samples},
          {"clean_accuracy", r.clean_accuracy},
          {"robust_accuracy", r.robust_accuracy},
          {"noise_accuracy", r.noise_accuracy},
          {"broken_by_noise_only", r.broken_by_noise_only},
          {"seconds", r.seconds}};
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  const auto json = nlohmann::json::parse(in, nullptr, false);
  OA_CHECK(!json.is_discarded() && json.is_object(), "{}: not a JSON object", path.string());
  return json;
}

// The gradient-masking check of Carlini et al. 2019: a white-box attack must do at least as
// well as random noise of the same size.
void warn_if_masked(const nlohmann::json& robustness, const std::string& model, const std::string& when,
                    nlohmann::json& warnings) {
  const double robust = robustness["robust_accuracy"], noise = robustness["noise_accuracy"];
  if (robust <= noise) return;
  const std::string warning = fmt::format(
      "{} {}: PGD robust accuracy {:.4f} is higher than the accuracy under random noise of the same eps {:.4f} "
      "({} samples broken by noise and not by PGD): PGD is weaker than noise here, the sign of gradient masking "
      "(Carlini et al. 2019); do not trust this robust accuracy",
      model, when, robust, noise, robustness["broken_by_noise_only"].get<std::int64_t>());
  std::fprintf(stderr, "WARNING: %s\n", warning.c_str());
  warnings.push_back(warning);
}

class AdvTrain {
 public:
  explicit AdvTrain(Args args) : args_(std::move(args)), out_(args_.out) {}
  int run();

 private:
  struct Source {
    std::string name;        // "model" (--from), "dense" or "rung-<s>"
    std::string checkpoint;  // the model to fine-tune
    double sparsity_target;
    fs::path dir;  // where its results go
  };
  std::vector<Source> sources() const;
  // Fine-tunes one model into src.dir (resuming what is there) and measures it; returns its
  // summary, or nothing when --stop-after stopped the run first.
  std::optional<nlohmann::json> fine_tune(const Source& src);
  void write_ladder(const nlohmann::json& rows) const;

  Args args_;
  fs::path out_;
  oa::Device device_ = oa::Device::CPU;
  oa::data::Dataset train_, test_, robust_set_;
  bool ladder_ = false;
  nlohmann::json source_ladder_;
  std::int64_t dense_weights_ = 0;            // ladder: the dense model's weight count
  std::vector<std::int64_t> dense_predictions_;  // ladder: the fine-tuned dense model's
  int chunks_ = 0;                            // checkpoints written by this invocation
};

std::vector<AdvTrain::Source> AdvTrain::sources() const {
  if (!ladder_) return {{"model", args_.from, 0.0, out_}};
  const fs::path ladder = args_.ladder;
  std::string dense = args_.dense;
  if (dense.empty()) {
    dense = (ladder / "dense" / "checkpoint.safetensors").string();
    if (!fs::exists(dense)) dense = source_ladder_["options"].value("from", std::string());
  }
  OA_CHECK(fs::exists(dense),
           "{}: the dense model is neither {}/dense/checkpoint.safetensors nor its options.from ({}); pass --dense CKPT",
           (ladder / "ladder.json").string(), ladder.string(), dense);
  std::vector<Source> list;
  for (const auto& row : source_ladder_["rungs"]) {
    const std::string name = row.at("rung");
    list.push_back({name, name == "dense" ? dense : (ladder / name / "checkpoint.safetensors").string(),
                    row.value("sparsity_target", 0.0), out_ / name});
  }
  return list;
}

std::optional<nlohmann::json> AdvTrain::fine_tune(const Source& src) {
  using namespace oa;
  const nlohmann::json options = run_options(args_);
  const fs::path summary_path = src.dir / "summary.json", partial = src.dir / "partial";
  const fs::path partial_checkpoint = partial / "checkpoint.safetensors";
  if (fs::exists(summary_path)) {  // finished earlier
    nlohmann::json summary = read_json(summary_path);
    OA_CHECK(summary["options"] == options, "{}: that run had other options ({}); resume with the same ones",
             summary_path.string(), summary["options"].dump());
    std::printf("%s: done earlier (%s)\n", src.name.c_str(), summary_path.string().c_str());
    return summary;
  }
  auto loaded = experiments::load_model(src.checkpoint, args_.arch);
  auto& model = *loaded.model;
  model.to(device_);
  const auto widths = prune::chain_widths(model);
  optim::SGD optimizer(model.parameters(), {.lr = args_.lr, .momentum = args_.momentum,
                                            .weight_decay = args_.weight_decay, .nesterov = args_.nesterov});
  optimizer.set_masks(prune::parameter_masks(model));  // pruned weights stay exactly zero

  const experiments::RobustnessOptions robustness{.norm = experiments::recipe_norm(args_.recipe),
                                                  .eps = args_.recipe.eps,
                                                  .steps = args_.robust_steps,
                                                  .restarts = args_.robust_restarts,
                                                  .noise_draws = args_.noise_draws,
                                                  .seed = args_.recipe.seed,
                                                  .batch_size = args_.robust_batch_size};
  experiments::AdversarialBatches adv{.make = experiments::adversarial_example_maker(args_.recipe),
                                      .fraction = args_.fraction,
                                      .stop_at = args_.adv_examples};
  std::int64_t epoch = 0, step = 0, trained = 0;
  double loss_sum = 0, correct_sum = 0, train_seconds = 0;
  nlohmann::json before;
  if (fs::exists(partial_checkpoint)) {
    const nlohmann::json meta = io::load_checkpoint(partial_checkpoint.string(), model);
    OA_CHECK(meta["options"] == options, "{}: that run had other options ({}); resume with the same ones",
             partial_checkpoint.string(), meta["options"].dump());
    experiments::load_optimizer_state(partial, meta["made"].dump(), optimizer, partial_checkpoint);
    adv.made = meta["made"];
    epoch = meta["epoch"], step = meta["step"], trained = meta["trained"];
    loss_sum = meta["loss_sum"], correct_sum = meta["correct_sum"], train_seconds = meta["train_seconds"];
    before = meta["before"];
    std::printf("%s: resume after %lld of %lld adversarial examples (epoch %lld, step %lld)\n", src.name.c_str(),
                (long long)adv.made, (long long)args_.adv_examples, (long long)epoch + 1, (long long)step);
  } else {
    before = robustness_json(experiments::measure_robustness(model, robust_set_, robustness, src.name + " before"));
  }

  data::BatchLoader loader(train_, {.batch_size = args_.batch_size,
                                    .seed = args_.recipe.seed,
                                    .augmentation = {.crop_padding = args_.crop_padding, .horizontal_flip = args_.flip}});
  const std::int64_t per_epoch = loader.batches_per_epoch();
  const std::int64_t total_steps =
      experiments::adversarial_training_steps(train_.size(), args_.batch_size, args_.fraction, args_.adv_examples);
  while (adv.made < args_.adv_examples) {
    const std::int64_t first_global = epoch * per_epoch;
    const auto lr_at = [&](std::int64_t s) {
      return optim::scheduled_lr(args_.schedule, first_global + s, total_steps, args_.lr);
    };
    const auto stats = experiments::train_epoch(
        model, optimizer, loader, epoch,
        {.lr_at = lr_at,
         .label = fmt::format("{} adv {}/{}", src.name, adv.made, args_.adv_examples),
         .first_step = step,
         .last_step = step + std::min(args_.checkpoint_every > 0 ? args_.checkpoint_every : per_epoch,
                                      total_steps - (first_global + step)),
         .adversarial = &adv,
         .simulated_ranks = args_.simulate_ranks});
    step += stats.steps;
    trained += stats.samples;
    loss_sum += stats.loss * static_cast<double>(stats.samples);
    correct_sum += stats.accuracy * static_cast<double>(stats.samples);
    train_seconds += stats.seconds;
    if (step >= per_epoch) epoch += 1, step = 0;
    // The checkpoint names its count of adversarial examples, and its optimiser state is kept
    // under that count (optimizer_state.h: safe against a kill between the two files). Every
    // rank holds the same model and optimiser: rank 0 writes them.
    const nlohmann::json meta = {{"options", options},          {"made", adv.made},       {"epoch", epoch},
                                 {"step", step},                {"trained", trained},     {"loss_sum", loss_sum},
                                 {"correct_sum", correct_sum},  {"train_seconds", train_seconds},
                                 {"before", before}};
    if (dist::rank() == 0) {
      fs::create_directories(partial);
      experiments::save_with_optimizer_state(partial, std::to_string(adv.made), optimizer,
                                             [&] { io::save_checkpoint(partial_checkpoint.string(), model, meta); });
    }
    chunks_ += 1;
    if (args_.stop_after > 0 && chunks_ >= args_.stop_after && adv.made < args_.adv_examples) {
      std::printf("stopped after %d checkpoint(s) as asked; --resume continues\n", chunks_);
      return std::nullopt;
    }
  }
  OA_CHECK(prune::chain_widths(model) == widths, "{}: fine-tuning changed the widths of the layers", src.name);

  const auto after_r = experiments::measure_robustness(model, robust_set_, robustness, src.name + " after");
  const nlohmann::json after = robustness_json(after_r);
  std::vector<std::int64_t> predictions;
  nlohmann::json row;
  if (ladder_) {
    row = experiments::measure_rung(model, src.name, src.sparsity_target, train_seconds, train_, test_,
                                    dense_weights_, dense_predictions_, src.dir, predictions);
  } else {
    const auto te = experiments::evaluate(model, test_, 500, src.name + " test");
    row = {{"rung", src.name}, {"test_accuracy", te.accuracy}};
  }
  row["adv_examples"] = adv.made;
  row["train_steps"] = total_steps;
  row["train_adv_loss"] = loss_sum / static_cast<double>(std::max<std::int64_t>(1, trained));
  row["train_adv_accuracy"] = correct_sum / static_cast<double>(std::max<std::int64_t>(1, trained));
  row["train_samples"] = trained;
  row["train_seconds"] = train_seconds;
  for (const char* key : {"clean_accuracy", "robust_accuracy", "noise_accuracy"}) {
    row[std::string(key) + "_before"] = before[key];
    row[std::string(key) + "_after"] = after[key];
  }
  nlohmann::json checkpoint_meta = {{"dataset", loaded.metadata.value("dataset", std::string("fashion-mnist"))},
                                    {"labels", loaded.metadata.value("labels", std::string("true"))},
                                    {"parent", src.checkpoint},
                                    {"adversarial_training", options},
                                    {"adv_examples", adv.made},
                                    {"test_accuracy", row["test_accuracy"]},
                                    {"robust_accuracy", after["robust_accuracy"]},
                                    {"seed", args_.recipe.seed}};
  for (const char* key : {"sparsity_target", "sparsity", "method"})
    if (loaded.metadata.contains(key)) checkpoint_meta[key] = loaded.metadata[key];
  if (dist::rank() == 0) experiments::save_model((src.dir / "checkpoint.safetensors").string(), model, loaded.config, checkpoint_meta);

  nlohmann::json warnings = nlohmann::json::array();
  warn_if_masked(before, src.name, "before fine-tuning", warnings);
  warn_if_masked(after, src.name, "after fine-tuning", warnings);
  if (args_.robust_steps <= args_.recipe.steps)
    warnings.push_back(fmt::format("--robust-steps {} is not more than the training --steps {}: the evaluation "
                                   "attack should be stronger than the training one",
                                   args_.robust_steps, args_.recipe.steps));
  nlohmann::json summary = {{"model", src.name},   {"source", src.checkpoint}, {"options", options},
                            {"before", before},    {"after", after},           {"row", row},
                            {"warnings", warnings}, {"threads", args_.runtime.threads},
                            {"device", args_.runtime.device}};
  summary.update(row);  // the row's keys at the top level too
  if (dist::rank() == 0) {
    io::write_file_atomic(summary_path.string(), summary.dump(2) + "\n");  // last: the model is done
    fs::remove_all(partial);
  }
  std::printf("%s: %lld adversarial examples in %lld steps (%.0f s); clean %.2f%% -> %.2f%%, robust %.2f%% -> "
              "%.2f%%, noise %.2f%% -> %.2f%% (first %lld test samples, eps %g)\n",
              src.name.c_str(), (long long)adv.made, (long long)total_steps, train_seconds,
              100 * before["clean_accuracy"].get<double>(), 100 * after_r.clean_accuracy,
              100 * before["robust_accuracy"].get<double>(), 100 * after_r.robust_accuracy,
              100 * before["noise_accuracy"].get<double>(), 100 * after_r.noise_accuracy,
              (long long)robust_set_.size(), args_.recipe.eps);
  std::fflush(stdout);
  return summary;
}

void AdvTrain::write_ladder(const nlohmann::json& rows) const {
  if (oa::dist::rank() != 0) return;  // every rank holds the same rows: rank 0 writes them
  nlohmann::json options = run_options(args_);
  options["from"] = (out_ / "dense" / "checkpoint.safetensors").string();  // the ladder's model A
  options["source_ladder"] = args_.ladder;
  for (const char* key : {"method", "sparsities"})
    if (source_ladder_["options"].contains(key)) options[key] = source_ladder_["options"][key];
  oa::io::write_file_atomic((out_ / "ladder.json").string(),
                            nlohmann::json{{"options", options}, {"rungs", rows}}.dump(2) + "\n");
  auto columns = oa::experiments::kLadderColumns;
  columns.insert(columns.end(), kAdversarialColumns.begin(), kAdversarialColumns.end());
  oa::io::write_file_atomic((out_ / "ladder.csv").string(), oa::experiments::ladder_csv(rows, columns));
}

int AdvTrain::run() {
  using namespace oa;
  device_ = args_.runtime.apply();
  experiments::adversarial_example_maker(args_.recipe);  // checks the recipe before anything runs
  ladder_ = !args_.ladder.empty();
  const nlohmann::json options = run_options(args_);
  const fs::path marker = out_ / (ladder_ ? "ladder.json" : "summary.json");
  OA_CHECK(args_.resume || (!fs::exists(marker) && !fs::exists(out_ / (ladder_ ? "dense" : "partial"))),
           "{} holds a run: pass --resume to continue it, or choose another --out", args_.out);
  if (ladder_) {
    source_ladder_ = read_json(fs::path(args_.ladder) / "ladder.json");
    OA_CHECK(source_ladder_.contains("rungs") && source_ladder_["rungs"].is_array() &&
                 !source_ladder_["rungs"].empty() && source_ladder_["rungs"][0].value("rung", "") == "dense",
             "{}/ladder.json: not a ladder of run_prune (no rungs, or not the dense model first)", args_.ladder);
  }
  const auto list = sources();
  fs::create_directories(out_);

  const auto first = experiments::load_model(list[0].checkpoint, args_.arch);
  experiments::DataChoice choice{.name = first.metadata.value("dataset", std::string("fashion-mnist")),
                                 .dir = args_.data_dir,
                                 .labels = first.metadata.value("labels", std::string("true")),
                                 .limit = args_.limit_train};
  train_ = experiments::load_dataset(choice, "train");
  choice.limit = args_.limit_test;
  test_ = experiments::load_dataset(choice, "test");
  robust_set_ = data::head(test_, args_.robust_n);
  std::printf("adversarial fine-tuning: %zu model(s), %s eps %g, %lld steps, %lld adversarial examples each "
              "(fraction %g of batches of %lld); %lld train / %lld test images, robustness on the first %lld; "
              "%d threads; BLAS kernels %s\n",
              list.size(), args_.recipe.attack.c_str(), args_.recipe.eps, (long long)args_.recipe.steps,
              (long long)args_.adv_examples, args_.fraction, (long long)args_.batch_size, (long long)train_.size(),
              (long long)test_.size(), (long long)robust_set_.size(), args_.runtime.threads, blas_kernels().c_str());

  nlohmann::json rows = nlohmann::json::array(), warnings = nlohmann::json::array();
  for (const auto& src : list) {
    const auto summary = fine_tune(src);
    if (!summary) return 0;  // --stop-after
    if (ladder_ && src.name == "dense") {
      dist::barrier();  // rank 0 has written the predictions read here
      dense_weights_ = (*summary)["weights"].get<std::int64_t>();
      dense_predictions_ = io::read_npy((src.dir / "train_predictions.npy").string()).to_vector<std::int64_t>();
    }
    rows.push_back((*summary)["row"]);
    for (const auto& w : (*summary)["warnings"]) warnings.push_back(w);
    if (ladder_) write_ladder(rows);
  }
  if (ladder_) {
    const nlohmann::json summary = {{"options", options},
                                    {"adv_examples", args_.adv_examples},
                                    {"rungs", rows},
                                    {"warnings", warnings}};
    if (dist::rank() == 0) io::write_file_atomic((out_ / "summary.json").string(), summary.dump(2) + "\n");
    std::printf("wrote %s/{ladder.csv,ladder.json,summary.json} and one directory per model\n", args_.out.c_str());
  } else {
    std::printf("wrote %s/{checkpoint.safetensors,summary.json}\n", args_.out.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  oa::select_blas_kernels(argv);
  Args args;
  using oa::experiments::kFiniteNonNegative;
  CLI::App app{"Equal adversarial fine-tuning: every model (one checkpoint, or every rung of a run_prune ladder) "
               "sees exactly --adv-examples adversarial examples made against itself; clean, PGD-robust and "
               "random-noise accuracy before and after. Checkpoints as it goes; --resume after a kill."};
  auto* from = app.add_option("--from", args.from, "The model to fine-tune (checkpoint .safetensors)");
  auto* ladder = app.add_option("--ladder", args.ladder, "Fine-tune every model of this run_prune ladder instead")
                     ->excludes(from);
  app.add_option("--dense", args.dense,
                 "--ladder: the dense model, when neither DIR/dense/checkpoint.safetensors nor the ladder's "
                 "options.from is found")
      ->needs(ladder);
  app.add_option("--arch", args.arch, std::string(oa::experiments::kArchHelp) + " (of --from)");
  app.add_option("--out", args.out, "Output directory")->required();
  app.add_option("--attack", args.recipe.attack, "How the examples are made: pgd-linf, pgd-l2 or ddn")
      ->capture_default_str()
      ->check(CLI::IsMember({"pgd-linf", "pgd-l2", "ddn"}));
  app.add_option("--eps", args.recipe.eps, "Radius of the ball (ddn: cap on the L2 norm); also of the robustness")
      ->capture_default_str()
      ->check(kFiniteNonNegative);
  app.add_option("--steps", args.recipe.steps, "Attack iterations per training example")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--step-size", args.recipe.step_size, "pgd: step size (0: 2.5 eps / steps)")
      ->capture_default_str()
      ->check(kFiniteNonNegative);
  app.add_option("--random-start", args.recipe.random_start, "pgd: start uniformly in the ball (true/false)")
      ->capture_default_str();
  app.add_option("--fraction", args.fraction, "Fraction of each batch replaced by adversarial examples, in (0, 1]")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0) & !CLI::Range(0.0, 0.0));
  app.add_option("--adv-examples", args.adv_examples, "Adversarial examples each model sees in all (counted)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", args.lr, "Peak learning rate")->capture_default_str()->check(kFiniteNonNegative);
  app.add_option("--schedule", args.schedule, "cosine, constant or one-cycle (over the budget's steps)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cosine", "constant", "one-cycle"}));
  app.add_option("--momentum", args.momentum, "SGD momentum")->capture_default_str()->check(kFiniteNonNegative);
  app.add_option("--nesterov", args.nesterov, "Nesterov momentum (true/false)")->capture_default_str();
  app.add_option("--weight-decay", args.weight_decay, "L2 weight decay")
      ->capture_default_str()
      ->check(kFiniteNonNegative);
  app.add_option("--batch-size", args.batch_size, "Images per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--crop-padding", args.crop_padding, "Random-crop augmentation padding (0: off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--flip", args.flip, "Random horizontal flips (true/false)")->capture_default_str();
  app.add_option("--seed", args.recipe.seed, "Seed of sample order, augmentation and random starts (every model)")
      ->capture_default_str();
  app.add_option("--data-dir", args.data_dir, "Directory of the data set (default: the data set's own)");
  app.add_option("--limit-train", args.limit_train, "Use only the first N training images (0: all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--limit-test", args.limit_test, "Use only the first N test images (0: all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--robust-n", args.robust_n, "Test samples (the first N) for clean/robust/noise accuracy")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--robust-batch-size", args.robust_batch_size,
                 "Samples per batch of the robustness measure (each batch has its own seeds; under mpirun the "
                 "batches are split over the ranks)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--robust-steps", args.robust_steps, "PGD iterations of the robustness measure")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--robust-restarts", args.robust_restarts, "PGD random restarts of the robustness measure")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--noise-draws", args.noise_draws, "Random-noise draws per sample (the gradient-masking check)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--checkpoint-every", args.checkpoint_every,
                 "Steps between checkpoints (0: at the end of each pass over the training set)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stop-after", args.stop_after,
                 "Stop after this many checkpoints of this invocation; --resume continues (0: run to the end)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--resume", args.resume, "Continue the run in --out");
  oa::experiments::add_simulate_ranks_flag(app, args.simulate_ranks);
  args.runtime.add_to(app);
  app.callback([&] {
    if (args.from.empty() == args.ladder.empty())
      throw CLI::RequiredError("give exactly one of --from CKPT and --ladder DIR");
  });
  return oa::experiments::run_cli(app, argc, argv, "run_adv_train", [&] { return AdvTrain(args).run(); });
}
