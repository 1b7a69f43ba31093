// Unit tests of framework/io/checkpoint: saving and loading a small model, the strictness
// errors, and a ResNet-18 file written by tools/torchvision_to_safetensors.py.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "framework/core/random.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "framework/nn/layers.h"

using nlohmann::json;
using oa::DType;
using oa::Shape;
using oa::Tensor;
using oa::io::load_checkpoint;
using oa::io::save_checkpoint;
namespace nn = oa::nn;

std::string temp_file(const std::string& name);  // test_safetensors.cpp

namespace {

// Conv2d(3 -> 4, 3x3, bias) BatchNorm2d ReLU Flatten Linear(4*5*5 -> classes), for [N, 3, 5, 5]
// inputs; the children are named "0" to "4". One training step moves the BatchNorm
// statistics away from their initial values.
std::shared_ptr<nn::Sequential> small_model(std::uint64_t seed, std::int64_t classes = 3) {
  oa::Rng rng(seed);
  auto model = std::make_shared<nn::Sequential>();
  model->add(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 3, .out_channels = 4, .kernel = 3,
                                                            .padding = 1, .bias = true},
                                          rng))
      .add(std::make_shared<nn::BatchNorm2d>(4))
      .add(std::make_shared<nn::ReLU>())
      .add(std::make_shared<nn::Flatten>())
      .add(std::make_shared<nn::Linear>(4 * 5 * 5, classes, rng));
  model->forward(oa::randn({2, 3, 5, 5}, rng));
  return model;
}

std::vector<double> values(const Tensor& t) { return t.to(DType::Float64).to_vector<double>(); }

// Names and values of the parameters then the buffers.
std::vector<std::pair<std::string, std::vector<double>>> state(const nn::Module& model) {
  std::vector<std::pair<std::string, std::vector<double>>> out;
  for (const auto& named : {model.named_parameters(), model.named_buffers()})
    for (const auto& [name, t] : named) out.emplace_back(name, values(t));
  return out;
}

// `f` must throw an oa::Error containing each of `parts`.
template <class F>
void check_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("no error");
  } catch (const oa::Error& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    for (const std::string& part : parts) CHECK(message.find(part) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("checkpoint: round trip of a small model and its metadata") {
  const auto model = small_model(1);
  const std::string path = temp_file("small.safetensors");
  const json metadata = {{"arch", "small"}, {"epoch", 3},         {"lr", 0.1},        {"tags", {"a", "b"}},
                         {"done", false},   {"labels", "true"},  {"version", "1.2"}};
  save_checkpoint(path, *model, metadata);

  // The file: parameters then buffers under torch's names; num_batches_tracked int64.
  const oa::io::SafetensorsFile file = oa::io::read_safetensors(path);
  std::vector<std::string> names;
  for (const auto& [name, t] : file.tensors) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias",
                                          "1.running_mean", "1.running_var", "1.num_batches_tracked"});
  CHECK(file.tensors[8].second.dtype() == DType::Int64);
  CHECK(file.tensors[8].second.item() == 1);
  CHECK(file.metadata.at("arch") == "small");  // strings as they are, the rest as JSON text
  CHECK(file.metadata.at("tags") == R"(["a","b"])");
  CHECK(file.metadata.at("labels") == R"("true")");  // a string that reads as JSON is stored quoted
  CHECK(file.metadata.at("format") == oa::io::kCheckpointFormat);

  // A model initialised differently becomes the same model.
  const auto loaded = small_model(2);
  CHECK(state(*loaded) != state(*model));
  json expected = metadata;
  expected["format"] = oa::io::kCheckpointFormat;
  CHECK(load_checkpoint(path, *loaded) == expected);
  CHECK(oa::io::read_checkpoint_metadata(path) == expected);
  CHECK(state(*loaded) == state(*model));
  model->eval();
  loaded->eval();
  oa::Rng rng(7);
  const Tensor x = oa::randn({4, 3, 5, 5}, rng);
  CHECK(values(loaded->forward(x)) == values(model->forward(x)));
}

TEST_CASE("checkpoint: float64 values load into a float32 model") {
  const auto model = small_model(1);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& named : {model->named_parameters(), model->named_buffers()})
    for (const auto& [name, t] : named) tensors.emplace_back(name, t.dtype() == DType::Int64 ? t : t.to(DType::Float64));
  const std::string path = temp_file("float64.safetensors");
  oa::io::write_safetensors(path, tensors, {{"format", oa::io::kCheckpointFormat}});

  const auto loaded = small_model(2);
  load_checkpoint(path, *loaded);
  CHECK(loaded->named_parameters()[0].second.dtype() == DType::Float32);
  CHECK(state(*loaded) == state(*model));
}

TEST_CASE("checkpoint: mismatched models are refused, and the model is left unchanged") {
  const std::string path = temp_file("mismatch.safetensors");
  save_checkpoint(path, *small_model(1), {});
  const auto other = small_model(2, /*classes=*/2);
  const auto before = state(*other);
  check_error([&] { load_checkpoint(path, *other); },
              {path, "'4.weight' has shape [3, 100] in the file but [2, 100] in the model"});
  check_error([&] { load_checkpoint(path, *other, /*strict=*/false); }, {"'4.weight' has shape"});
  CHECK(state(*other) == before);

  // A model with fewer layers: the file has unexpected keys; with more, keys are missing.
  oa::Rng rng(3);
  nn::Sequential conv;
  conv.add(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 3, .out_channels = 4, .kernel = 3,
                                                          .padding = 1, .bias = true},
                                        rng));
  check_error([&] { load_checkpoint(path, conv); },
              {path, "7 unexpected keys in the file: '1.bias', '1.num_batches_tracked', '1.running_mean', "
                     "'1.running_var', '1.weight', '4.bias', '4.weight'"});
  load_checkpoint(path, conv, /*strict=*/false);
  CHECK(values(conv.named_parameters()[0].second) == state(*small_model(1))[0].second);

  const std::string conv_path = temp_file("conv.safetensors");
  save_checkpoint(conv_path, conv, {});
  check_error([&] { load_checkpoint(conv_path, *other); },
              {conv_path, "6 model keys missing from the file: '1.weight', '1.bias', '4.weight', '4.bias', "
                          "'1.running_mean', '1.running_var'"});
  load_checkpoint(conv_path, *other, /*strict=*/false);
  CHECK(state(*other)[0] == state(conv)[0]);
  CHECK(state(*other)[4] == before[4]);  // "4.weight"
}

TEST_CASE("checkpoint: error lists stop after 10 names") {
  nn::Sequential norms;
  for (int i = 0; i < 3; ++i) norms.add(std::make_shared<nn::BatchNorm2d>(2));  // 15 tensors
  const std::string path = temp_file("empty.safetensors");
  save_checkpoint(path, nn::Sequential(), {});
  check_error([&] { load_checkpoint(path, norms); },
              {"12 model keys missing from the file: '0.weight', '0.bias', '1.weight', '1.bias', '2.weight', "
               "'2.bias', '0.running_mean', '0.running_var', '1.running_mean', '1.running_var' and 2 more"});
}

TEST_CASE("checkpoint: a missing num_batches_tracked is accepted (as PyTorch does) and set to 0") {
  const auto model = small_model(1);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& named : {model->named_parameters(), model->named_buffers()})
    for (const auto& [name, t] : named)
      if (!name.ends_with("num_batches_tracked")) tensors.emplace_back(name, t);
  const std::string path = temp_file("no_counter.safetensors");
  oa::io::write_safetensors(path, tensors, {{"format", oa::io::kCheckpointFormat}});

  const auto loaded = small_model(2);
  nn::BatchNorm2d& norm = dynamic_cast<nn::BatchNorm2d&>(loaded->child("1"));
  norm.num_batches_tracked.fill_(5);
  load_checkpoint(path, *loaded);
  CHECK(norm.num_batches_tracked.item() == 0);
  CHECK(values(norm.running_mean) == values(dynamic_cast<nn::BatchNorm2d&>(model->child("1")).running_mean));
  CHECK(state(*loaded)[0] == state(*model)[0]);
  // Any other missing tensor is still an error.
  tensors.pop_back();
  oa::io::write_safetensors(path, tensors, {{"format", oa::io::kCheckpointFormat}});
  check_error([&] { load_checkpoint(path, *loaded); }, {path, "1 model keys missing from the file: '1.running_var'"});
}

TEST_CASE("checkpoint: wrong dtypes, foreign files and bad metadata are refused") {
  const auto model = small_model(1);
  const std::string path = temp_file("foreign.safetensors");
  auto tensors = model->named_parameters();
  for (const auto& [name, t] : model->named_buffers()) tensors.emplace_back(name, t.to(DType::Float32));
  oa::io::write_safetensors(path, tensors, {{"format", oa::io::kCheckpointFormat}});
  check_error([&] { load_checkpoint(path, *model); },
              {path, "'1.num_batches_tracked' is float32 in the file but int64 in the model"});

  oa::io::write_safetensors(path, tensors, {});
  check_error([&] { load_checkpoint(path, *model); },
              {path, R"(not a checkpoint: the metadata "format" is missing, not "outlierattack-checkpoint-1")"});
  oa::io::write_safetensors(path, tensors, {{"format", "1"}});
  check_error([&] { oa::io::read_checkpoint_metadata(path); }, {path, R"(the metadata "format" is 1, not)"});

  check_error([&] { save_checkpoint(path, *model, {{"format", "other"}}); },
              {path, R"(the metadata "format" must be "outlierattack-checkpoint-1", not "other")"});
  check_error([&] { save_checkpoint(path, *model, json::array({1, 2})); },
              {path, "the metadata must be a JSON object, not array"});
}

// Run by the ctest io_torchvision_import, after io_torchvision_export has written the file
// named by OA_TORCHVISION_RESNET18 (see tests/io/CMakeLists.txt); skipped otherwise.
TEST_CASE("checkpoint: a torchvision ResNet-18 written by tools/torchvision_to_safetensors.py" * doctest::skip()) {
  const char* path = std::getenv("OA_TORCHVISION_RESNET18");
  REQUIRE_MESSAGE(path != nullptr, "set OA_TORCHVISION_RESNET18 to the file io_torchvision_export writes");
  const oa::io::SafetensorsFile file = oa::io::read_safetensors(path);
  CHECK(file.tensors.size() == 122);  // 62 parameters, 3 buffers in each of the 20 BatchNorms

  // state_dict order: each module's parameters, then its buffers, then its children.
  std::map<std::string, Tensor> by_name;
  std::vector<std::string> first_names;
  for (const auto& [name, t] : file.tensors) {
    by_name.emplace(name, t);
    if (first_names.size() < 7) first_names.push_back(name);
  }
  CHECK(first_names == std::vector<std::string>{"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                                "bn1.running_var", "bn1.num_batches_tracked",
                                                "layer1.0.conv1.weight"});
  CHECK(by_name.at("fc.weight").shape() == Shape{1000, 512});
  CHECK(by_name.at("fc.weight").dtype() == DType::Float32);
  CHECK(by_name.at("layer4.1.bn2.running_var").shape() == Shape{512});
  CHECK(values(by_name.at("layer4.1.bn2.running_var")) == std::vector<double>(512, 1.0));
  const Tensor& tracked = by_name.at("bn1.num_batches_tracked");
  CHECK(tracked.dtype() == DType::Int64);
  CHECK(tracked.shape() == Shape{});
  CHECK(tracked.item() == 0);

  // The values themselves: conv1 is Kaiming-normal with fan_out (std sqrt(2 / (64*7*7))),
  // fc.bias uniform in +-1/sqrt(512).
  const std::vector<double> conv1 = values(by_name.at("conv1.weight"));
  double squares = 0;
  for (double v : conv1) squares += v * v;
  CHECK(std::sqrt(squares / conv1.size()) == doctest::Approx(std::sqrt(2.0 / (64 * 49))).epsilon(0.05));
  for (double v : values(by_name.at("fc.bias"))) CHECK(std::abs(v) <= 1 / std::sqrt(512.0));

  const json metadata = oa::io::read_checkpoint_metadata(path);
  CHECK(metadata["architecture"] == "resnet18");
  CHECK(metadata["source"] == "torchvision");
  CHECK(metadata["num_classes"] == 1000);
  CHECK(metadata["seed"] == 0);
}
