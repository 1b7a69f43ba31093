// Bad input reaches a readable oa::Error that names the op and the offending shapes/values.
#include <doctest/doctest.h>

#include <functional>
#include <string>

#include "framework/autograd/node.h"
#include "framework/backend/memory.h"
#include "framework/ops/ops.h"
#include "framework/util/runtime.h"
#include "tests/unit/helpers.h"

using oa::DType;
using oa::Tensor;
using test::labels;

namespace {

// Runs f and checks that it throws an oa::Error whose message contains every one of `parts`.
void check_error(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  std::string message;
  try {
    f();
  } catch (const oa::Error& e) {
    message = e.what();
  }
  REQUIRE_MESSAGE(!message.empty(), "no oa::Error was thrown");
  CAPTURE(message);
  for (const auto& part : parts) CHECK_MESSAGE(message.find(part) != std::string::npos, "missing: " << part);
}

}  // namespace

TEST_CASE("errors: broadcasting shape mismatch names both shapes") {
  check_error([] { oa::add(Tensor::zeros({2, 3}), Tensor::zeros({4})); }, {"add", "[2, 3]", "[4]"});
  check_error([] { oa::mul(Tensor::zeros({5, 1, 3}), Tensor::zeros({2, 2})); }, {"mul", "[5, 1, 3]", "[2, 2]"});
}

TEST_CASE("errors: dtype mismatch") {
  check_error([] { oa::add(Tensor::zeros({2}), Tensor::zeros({2}, DType::Float64)); },
              {"add", "float32", "float64"});
  check_error([] { oa::exp(Tensor::zeros({2}, DType::Int64)); }, {"exp", "int64"});
}

TEST_CASE("errors: matmul and linear inner dimensions") {
  check_error([] { oa::matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]"});
  check_error([] { oa::matmul(Tensor::zeros({2, 3, 1}), Tensor::zeros({3, 5})); }, {"matmul", "dimensions"});
  check_error([] { oa::linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})); }, {"linear", "[2, 3]", "[4, 5]"});
}

TEST_CASE("errors: conv2d channel mismatch") {
  check_error([] { oa::conv2d(Tensor::zeros({1, 3, 5, 5}), Tensor::zeros({2, 4, 3, 3})); },
              {"conv2d", "[1, 3, 5, 5]", "[2, 4, 3, 3]"});
  // 4 input channels in 2 groups need a weight with 2 channels per group, not 4.
  check_error([] { oa::conv2d(Tensor::zeros({1, 4, 5, 5}), Tensor::zeros({2, 4, 3, 3}), Tensor(), 1, 0, 2); },
              {"conv2d", "groups"});
  check_error([] { oa::conv2d(Tensor::zeros({1, 3, 2, 2}), Tensor::zeros({2, 3, 3, 3})); }, {"conv2d", "larger"});
}

TEST_CASE("errors: labels out of range") {
  const Tensor logits = Tensor::zeros({2, 3});
  check_error([&] { oa::cross_entropy(logits, labels({0, 3})); }, {"cross_entropy", "label 3", "[0, 3)"});
  check_error([&] { oa::cross_entropy(logits, labels({-1, 0})); }, {"cross_entropy", "label -1"});
  check_error([&] { oa::cross_entropy(logits, labels({0, 1, 2})); }, {"cross_entropy", "[3]", "[2, 3]"});
  check_error([&] { oa::cross_entropy(logits, Tensor::zeros({2})); }, {"cross_entropy", "int64"});
  check_error([&] { oa::margin(logits, labels({5, 0})); }, {"margin", "label 5"});
}

TEST_CASE("errors: autograd misuse") {
  check_error([] { Tensor::zeros({2}, DType::Int64).set_requires_grad(); }, {"int64"});

  Tensor x = Tensor::ones({2});
  x.set_requires_grad();
  const Tensor y = oa::exp(x);
  check_error([&] { Tensor(y).set_requires_grad(false); }, {"leaf"});  // y is not a leaf
  check_error([&] { y.backward(); }, {"one-element"});                 // no implicit gradient for [2]
  check_error([] { oa::sum(Tensor::ones({2})).backward(); }, {"does not require grad"});
  check_error([&] { y.backward(Tensor::ones({3})); }, {"[2]", "[3]"});  // wrong gradient shape
}

TEST_CASE("errors: reshape, pooling and other argument checks") {
  const Tensor x = Tensor::zeros({2, 3});
  check_error([&] { x.reshape({4, 2}); }, {"reshape", "[4, 2]"});
  check_error([&] { x.reshape({-1, -1}); }, {"reshape", "-1"});
  check_error([&] { x.reshape({4, -1}); }, {"reshape", "[4, -1]"});
  check_error([&] { oa::sum(x, {2}); }, {"sum", "dimension 2"});
  check_error([&] { oa::clamp(x, 1.0, -1.0); }, {"clamp"});
  check_error([] { oa::max_pool2d(Tensor::zeros({1, 1, 4, 4}), 2, 2, 2); }, {"max_pool2d", "padding"});
  check_error([] { oa::sum_to(Tensor::zeros({3, 4}), {2, 4}); }, {"sum_to"});
}

TEST_CASE("errors: the --device flag names a bad value, and cuda without a usable GPU says why") {
  CHECK(oa::parse_device("cpu") == oa::Device::CPU);
  check_error([] { oa::parse_device("gpu"); }, {"--device", "cpu or cuda", "'gpu'"});
  std::string why;
  if (!oa::backend::cuda_available(&why)) {
    CAPTURE(why);
    CHECK_FALSE(why.empty());
    check_error([] { oa::parse_device("cuda"); }, {"--device cuda", "no GPU", why});
  } else {
    CHECK(oa::parse_device("cuda") == oa::Device::CUDA);
  }
}

TEST_CASE("errors: a CUDA tensor in a build or on a machine without a GPU is a clear error, not a crash") {
  std::string why;
  if (oa::backend::cuda_available(&why)) return;  // the cuda suite covers machines with a GPU
  check_error([] { Tensor::zeros({2, 3}, DType::Float32, oa::Device::CUDA); }, {"CUDA"});
}
