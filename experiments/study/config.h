#pragma once
// The study's configuration (run_study): the fields, the presets, and reading a --config file.
// Here rather than in run_study.cpp so that the tests and the fuzz target (tests/fuzz) can
// parse configs without running a study.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "experiments/common/cli.h"

namespace oa::study {

// Every choice of a study: a preset fills them, a --config file overrides the preset, a flag
// overrides both. Lists are comma-separated strings.
struct StudyConfig {
  std::string data = "fashion-mnist";  // the data set A is trained on (when trained here)
  std::string data_dir;                // empty: the data set's default directory
  std::string device = "cpu";
  std::string model_a = "models/weights/resnet20-fashion-mnist/checkpoint.safetensors";  // empty: train it
  std::string architecture = "resnet20";  // of A when trained here, and of the memorisation control
  std::int64_t a_epochs = 8;
  std::string ladder = "models/weights/resnet20-fashion-mnist-ladder-global";  // empty: prune A here
  std::string rungs = "0.7,0.9,0.98";  // the sparsities of the ladder that the study uses
  std::string depth = "resnet20,resnet32";
  std::string depth_checkpoints;  // the depth ladder from given files instead: "resnet50=PATH,resnet101=PATH"
  std::int64_t depth_epochs = 2, depth_limit_train = 2500, depth_batch_size = 32;
  std::int64_t parity_epochs = 25, parity_limit_train = 500;
  std::int64_t eval_limit = 2000;  // accuracy on the first N samples of each split (0: all)
  std::int64_t attack_n = 10;      // the first N train and N test samples attacked, per model
  std::string attacks = "cw-l2,ddn,fmn-linf";
  std::int64_t cw_search_steps = 3, cw_iterations = 30, ddn_steps = 50, fmn_steps = 50;
  std::int64_t adv_examples = 256, adv_steps = 3, adv_robust_n = 50, adv_robust_steps = 20;
  double adv_eps = 0.1;
  std::string outlier_rungs = "0.9";
  std::int64_t outlier_limit = 5000, outlier_max_per_set = 8, outlier_rays_queries = 200;
  std::string outlier_budgets = "10,100,200", outlier_eps = "0.01,0.02,0.03";
  std::uint64_t seed = 0;
  std::int64_t threads = 2;
  std::string launcher;  // how, not what: a study may resume with another (run_study.cpp)

  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("data", c.data, experiments::Flag{"--data", "Data set of the models trained here: fashion-mnist, mnist, cifar10, image-folder"});
    visit("data_dir", c.data_dir, experiments::Flag{"--data-dir", "Directory of the data set (default: its own)"});
    visit("device", c.device, experiments::Flag{"--device", "cpu or cuda, for every stage"});
    visit("model_a", c.model_a, experiments::Flag{"--model-a", "Checkpoint of A (empty: train A here)"});
    visit("architecture", c.architecture, experiments::Flag{"--architecture", "A's architecture when trained here; the control's"});
    visit("a_epochs", c.a_epochs, experiments::Flag{"--a-epochs", "Epochs of A when trained here", experiments::Positive});
    visit("ladder", c.ladder, experiments::Flag{"--ladder", "A run_prune ladder of A (empty: prune A here at --rungs)"});
    visit("rungs", c.rungs, experiments::Flag{"--rungs", "Sparsities of the ladder used, comma-separated"});
    visit("depth", c.depth, experiments::Flag{"--depth", "Depth ladder architectures, comma-separated (empty: none)"});
    visit("depth_checkpoints", c.depth_checkpoints,
          experiments::Flag{"--depth-checkpoints",
                            "Depth ladder from given checkpoints instead of training (with --depth empty): "
                            "ARCH=PATH,... each with our metadata (tools/torchvision_to_safetensors.py writes it)"});
    visit("depth_epochs", c.depth_epochs, experiments::Flag{"--depth-epochs", "Training epochs of each depth", experiments::Positive});
    visit("depth_limit_train", c.depth_limit_train,
          experiments::Flag{"--depth-limit-train", "Depth ladder: first N training samples (0: all)", experiments::NonNegative});
    visit("depth_batch_size", c.depth_batch_size,
          experiments::Flag{"--depth-batch-size", "Depth ladder: images per training step", experiments::Positive});
    visit("parity_epochs", c.parity_epochs,
          experiments::Flag{"--parity-epochs", "Memorisation control: training epochs", experiments::Positive});
    visit("parity_limit_train", c.parity_limit_train,
          experiments::Flag{"--parity-limit-train", "Memorisation control: first N training samples (0: all)",
               experiments::NonNegative});
    visit("eval_limit", c.eval_limit,
          experiments::Flag{"--eval-limit", "Accuracy on the first N samples of each split (0: all)", experiments::NonNegative});
    visit("attack_n", c.attack_n, experiments::Flag{"--attack-n", "Train and test samples attacked per model", experiments::Positive});
    visit("attacks", c.attacks, experiments::Flag{"--attacks", "run_cw attacks, comma-separated (cw-l2 always runs)"});
    visit("cw_search_steps", c.cw_search_steps,
          experiments::Flag{"--cw-search-steps", "cw-l2: binary search steps of c", experiments::Positive});
    visit("cw_iterations", c.cw_iterations, experiments::Flag{"--cw-iterations", "cw-l2: iterations per c", experiments::Positive});
    visit("ddn_steps", c.ddn_steps, experiments::Flag{"--ddn-steps", "ddn: steps", experiments::Positive});
    visit("fmn_steps", c.fmn_steps, experiments::Flag{"--fmn-steps", "fmn-linf: steps", experiments::Positive});
    visit("adv_examples", c.adv_examples,
          experiments::Flag{"--adv-examples", "Adversarial examples each model is fine-tuned on", experiments::Positive});
    visit("adv_steps", c.adv_steps, experiments::Flag{"--adv-steps", "PGD steps of each training example", experiments::Positive});
    visit("adv_robust_n", c.adv_robust_n,
          experiments::Flag{"--adv-robust-n", "Test samples of the robust accuracy", experiments::Positive});
    visit("adv_robust_steps", c.adv_robust_steps,
          experiments::Flag{"--adv-robust-steps",
                            "PGD steps of the robust accuracy (keep it well above --adv-steps: a measure no stronger "
                            "than the training attack overstates robustness)",
                            experiments::Positive});
    visit("adv_eps", c.adv_eps, experiments::Flag{"--adv-eps", "PGD-Linf radius of the fine-tuning", experiments::Positive});
    visit("outlier_rungs", c.outlier_rungs, experiments::Flag{"--outlier-rungs", "Rungs B of the OutlierAttack (empty: none)"});
    visit("outlier_limit", c.outlier_limit,
          experiments::Flag{"--outlier-limit", "OutlierAttack pool: first N samples of each split (0: all)", experiments::NonNegative});
    visit("outlier_max_per_set", c.outlier_max_per_set,
          experiments::Flag{"--outlier-max-per-set", "OutlierAttack: samples measured per set", experiments::Positive});
    visit("outlier_rays_queries", c.outlier_rays_queries,
          experiments::Flag{"--outlier-rays-queries", "OutlierAttack: RayS budget", experiments::NonNegative});
    visit("outlier_budgets", c.outlier_budgets, experiments::Flag{"--outlier-budgets", "OutlierAttack: query budgets"});
    visit("outlier_eps", c.outlier_eps, experiments::Flag{"--outlier-eps", "OutlierAttack: Square radii"});
    visit("seed", c.seed, experiments::Flag{"--seed", "Seed of every stage"});
    visit("threads", c.threads, experiments::Flag{"--threads", "CPU threads of every stage (of every rank)", experiments::Positive});
    visit("launcher", c.launcher,
          experiments::Flag{"--launcher",
                            "Command that starts the stages that split their work over MPI ranks (training, pruning, "
                            "attacks, the OutlierAttack), e.g. 'mpirun -np 4' or 'srun' (empty: one process each)"});
  }
};

// The values of `preset` (quick, full, large, cifar10, imagenet, tiny) that differ from the defaults; throws for
// an unknown preset.
nlohmann::json preset_values(const std::string& preset);

// Sets every field of `config` that `values` has; an unknown key, a value of the wrong kind (3.7 or
// true for an integer) or out of its flag's range (-5 for --attack-n) is an error naming `source`
// and the key.
void apply_values(const nlohmann::json& values, StudyConfig& config, const std::string& source);

// The defaults, overridden by the preset, overridden by the JSON file `config_file` (none when
// empty). Throws naming the file and the key for an unreadable file, text that is not JSON,
// an unknown key or a value of the wrong kind.
StudyConfig load_study_config(const std::string& preset, const std::string& config_file);

}  // namespace oa::study
