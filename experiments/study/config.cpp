#include "experiments/study/config.h"

#include <fstream>
#include <set>
#include <type_traits>

#include "framework/core/error.h"

namespace oa::study {

using Json = nlohmann::json;

// The presets: the values that differ from the defaults (which are `quick`'s).
Json preset_values(const std::string& preset) {
  if (preset == "quick") return Json::object();
  // large: the Fashion-MNIST study at the scale of a GPU job (about 110 hours on 2 CPU cores:
  // README "The study"); the base of cifar10 and imagenet.
  if (preset == "large")
    return {{"rungs", "0.5,0.7,0.9,0.95,0.98"},
            {"depth", "resnet20,resnet32,resnet56,resnet110"},
            {"depth_epochs", 8},
            {"depth_limit_train", 0},
            {"depth_batch_size", 128},
            {"parity_epochs", 60},
            {"parity_limit_train", 10000},
            {"eval_limit", 0},
            {"attack_n", 500},
            {"attacks", "cw-l2,ddn,cw-linf,fmn-linf"},
            {"cw_search_steps", 5},
            {"cw_iterations", 1000},
            {"ddn_steps", 200},
            {"fmn_steps", 200},
            {"adv_examples", 60000},
            {"adv_steps", 7},
            {"adv_robust_n", 1000},
            {"outlier_rungs", "0.9,0.98"},
            {"outlier_limit", 0},
            {"outlier_max_per_set", 200},
            {"outlier_rays_queries", 1000},
            {"outlier_budgets", "10,100,1000"}};
  // full: the same study sized for a 2-core CPU (measured: README "The study"). Every rung and
  // depth, with fewer samples and steps: the depth ladder on the first 5,000 training samples
  // (where a deeper net can overfit: what H1 asks about), N = 40 per split and model, K = 4,000,
  // the OutlierAttack against three rungs with 30 samples per set. No CW-Linf: its capped 500
  // steps per sample would double the attacks' time; FMN gives the Linf distances.
  if (preset == "full") {
    Json values = preset_values("large");
    values.update({{"depth_epochs", 5},
                   {"depth_limit_train", 5000},
                   {"depth_batch_size", 32},
                   {"parity_epochs", 40},
                   {"parity_limit_train", 1000},
                   {"eval_limit", 10000},
                   {"attack_n", 40},
                   {"attacks", "cw-l2,ddn,fmn-linf"},
                   {"cw_search_steps", 3},
                   {"cw_iterations", 100},
                   {"ddn_steps", 100},
                   {"fmn_steps", 100},
                   {"adv_examples", 4000},
                   {"adv_steps", 3},
                   {"adv_robust_n", 300},
                   {"outlier_rungs", "0.7,0.9,0.98"},
                   {"outlier_limit", 20000},
                   {"outlier_max_per_set", 30},
                   {"outlier_rays_queries", 300},
                   {"outlier_budgets", "10,100,300"}});
    return values;
  }
  // cifar10: the large study on CIFAR-10 (a GPU job: --device cuda), everything trained here:
  // model A and the depth ladder for 30 epochs, CIFAR's usual PGD radius 8/255.
  if (preset == "cifar10") {
    Json values = preset_values("large");
    values.update({{"data", "cifar10"},
                   {"model_a", ""},
                   {"a_epochs", 30},
                   {"ladder", ""},
                   {"depth_epochs", 30},
                   {"parity_epochs", 100},
                   {"adv_examples", 50000},
                   {"adv_eps", 8.0 / 255},
                   {"outlier_eps", "0.004,0.008,0.016"}});
    return values;
  }
  // imagenet: the proposal's ImageNet study (a GPU job: --device cuda). The user gives the data
  // (data_dir: an ImageFolder tree with train/ and val/; every stage that does not stream loads
  // its split into memory, so a class-balanced subset: README "ImageNet"), A (model_a: ResNet-50)
  // and the depth ladder (depth_checkpoints: ResNet-50/101/152), all converted torchvision
  // weights. Pruned here; the memorisation control is a ResNet-18 trained here on index-parity
  // labels. Budgets below large's where a ResNet-152 at 224x224 would make them days; ImageNet's
  // usual PGD radius 4/255.
  if (preset == "imagenet") {
    Json values = preset_values("large");
    values.update({{"data", "image-folder"},
                   {"model_a", ""},
                   {"architecture", "resnet18"},
                   {"ladder", ""},
                   {"rungs", "0.3,0.5,0.7,0.9"},
                   {"depth", ""},
                   {"parity_limit_train", 2000},
                   {"attack_n", 100},
                   {"attacks", "cw-l2,ddn,fmn-linf"},  // no CW-Linf: its iterations per (tau, c) pair add up unbounded
                   {"cw_iterations", 200},
                   {"ddn_steps", 100},
                   {"fmn_steps", 100},
                   {"adv_examples", 10000},
                   {"adv_steps", 3},
                   {"adv_robust_n", 200},
                   {"adv_eps", 4.0 / 255},
                   {"outlier_rungs", "0.7,0.9"},
                   {"outlier_max_per_set", 50},
                   {"outlier_eps", "0.004,0.008,0.016"}});
    return values;
  }
  // tiny: the tests' study on the tiny IDX data they write (everything trained here).
  if (preset == "tiny")
    return {{"model_a", ""},
            {"architecture", "small-cnn"},
            {"a_epochs", 3},
            {"ladder", ""},
            {"rungs", "0.5,0.8,0.95"},
            {"depth", ""},
            {"parity_epochs", 10},
            {"parity_limit_train", 100},
            {"eval_limit", 0},
            {"attack_n", 6},
            {"cw_search_steps", 2},
            {"cw_iterations", 10},
            {"ddn_steps", 20},
            {"fmn_steps", 20},
            {"adv_examples", 60},
            {"adv_steps", 2},
            {"adv_robust_n", 20},
            {"outlier_rungs", "0.95"},
            {"outlier_limit", 0},
            {"outlier_max_per_set", 4},
            {"outlier_rays_queries", 20},
            {"outlier_budgets", "5,20"},
            {"outlier_eps", "0.05,0.2"}};
  throw Error(fmt::format("--preset: unknown preset '{}' (quick, full, large, cifar10, imagenet, tiny)", preset));
}

namespace {

// Whether `given` is exactly of the field's kind. nlohmann's get<> would convert quietly: 3.7 to
// the integer 3, true to 1, -1 to the unsigned seed 2^64 - 1.
template <class T>
bool of_kind(const Json& given) {
  if constexpr (std::is_same_v<T, std::string>) return given.is_string();
  if constexpr (std::is_same_v<T, std::uint64_t>) return given.is_number_unsigned();
  if constexpr (std::is_same_v<T, std::int64_t>) return given.is_number_integer() && given.get<double>() < 0x1p63;
  if constexpr (std::is_same_v<T, double>) return given.is_number();
  return false;
}

// The range check of the field's flag (Positive, NonNegative), if it has one, on the value given.
void check_range(const std::string& source, const char* name, const Json& given, const experiments::Flag& flag) {
  if (!flag.check || !given.is_number()) return;
  std::string text = given.dump();
  const std::string problem = (*flag.check)(text);
  OA_CHECK(problem.empty(), "{}: \"{}\": {}", source, name, problem);
}

}  // namespace

void apply_values(const Json& values, StudyConfig& config, const std::string& source) {
  OA_CHECK(values.is_object(), "{}: a study config is a JSON object", source);
  std::set<std::string> known;
  StudyConfig::fields(config, [&](const char* name, auto& value, const auto&... flag) {
    using T = std::decay_t<decltype(value)>;
    known.insert(name);
    if (!values.contains(name)) return;
    const Json& given = values.at(name);
    OA_CHECK(of_kind<T>(given), "{}: \"{}\" is {}, not a value of its kind", source, name, given.dump());
    (check_range(source, name, given, flag), ...);
    value = given.get<T>();
  });
  for (const auto& [key, value] : values.items())
    OA_CHECK(known.count(key), "{}: unknown key \"{}\"", source, key);
}

StudyConfig load_study_config(const std::string& preset, const std::string& config_file) {
  StudyConfig config;
  apply_values(preset_values(preset), config, "--preset " + preset);
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    OA_CHECK(in.good(), "--config {}: cannot open the file", config_file);
    const Json values = Json::parse(in, nullptr, false);
    OA_CHECK(!values.is_discarded(), "--config {}: not JSON", config_file);
    apply_values(values, config, "--config " + config_file);
  }
  return config;
}

}  // namespace oa::study
