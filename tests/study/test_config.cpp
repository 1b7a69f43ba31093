// run_study's configuration (experiments/study/config.h): presets, then a --config file.
#include <doctest/doctest.h>

#include <string>

#include "experiments/study/config.h"
#include "framework/core/error.h"
#include "tests/common/temp_dir.h"

using oa::study::load_study_config;

namespace {

// The error message of loading `text` as a --config file over the quick preset ("" if none).
std::string config_error(const std::string& text) {
  const oa::test::TempDir dir;
  const std::string path = dir.file("study.json");
  oa::test::write_file(path, text);
  try {
    load_study_config("quick", path);
  } catch (const oa::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("study config: the file overrides the preset, which overrides the defaults") {
  const oa::test::TempDir dir;
  const std::string path = dir.file("study.json");
  oa::test::write_file(path, R"({"attack_n": 3, "adv_eps": 0.05, "seed": 7})");
  const auto config = load_study_config("tiny", path);
  CHECK(config.attack_n == 3);         // from the file (tiny says 6)
  CHECK(config.adv_eps == 0.05);       // from the file
  CHECK(config.seed == 7);             // from the file
  CHECK(config.a_epochs == 3);         // from the tiny preset (the default is 8)
  CHECK(config.device == "cpu");       // the default
  CHECK(load_study_config("large", "").attack_n == 500);
  CHECK(load_study_config("full", "").attack_n == 40);             // full is large sized for a CPU
  CHECK(load_study_config("full", "").rungs == "0.5,0.7,0.9,0.95,0.98");  // ... from large
  CHECK(load_study_config("cifar10", "").attack_n == 500);         // cifar10 stays at large's scale
  // Every preset passes the checks a config file must pass.
  for (const char* preset : {"quick", "full", "large", "cifar10", "imagenet", "tiny"}) CHECK_NOTHROW(load_study_config(preset, ""));
  CHECK_THROWS_WITH(load_study_config("huge", ""), doctest::Contains("unknown preset 'huge'"));
}

TEST_CASE("study config: a value of the wrong kind or out of its flag's range is refused, naming the key") {
  CHECK(config_error(R"({"attack_n": 2.5})").find("\"attack_n\" is 2.5, not a value of its kind") != std::string::npos);
  CHECK(config_error(R"({"attack_n": true})").find("\"attack_n\" is true") != std::string::npos);
  CHECK(config_error(R"({"seed": -1})").find("\"seed\" is -1") != std::string::npos);
  CHECK(config_error(R"({"threads": 18446744073709551615})").find("\"threads\" is") != std::string::npos);
  CHECK(config_error(R"({"rungs": 0.5})").find("\"rungs\" is 0.5") != std::string::npos);
  CHECK(config_error(R"({"attack_n": -5})").find("\"attack_n\": Value -5 is not above 0") != std::string::npos);
  CHECK(config_error(R"({"adv_eps": 0})").find("\"adv_eps\": Value 0 is not above 0") != std::string::npos);
  CHECK(config_error(R"({"eval_limit": -1})").find("\"eval_limit\": Value -1 is not 0 or above") != std::string::npos);
  CHECK(config_error(R"({"eval_limit": 0})").empty());
  CHECK(config_error(R"({"attack_number": 3})").find("unknown key \"attack_number\"") != std::string::npos);
  CHECK(config_error("[1, 2]").find("a study config is a JSON object") != std::string::npos);
  CHECK(config_error(R"({"attack_n": 3)").find("not JSON") != std::string::npos);
}
