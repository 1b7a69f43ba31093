// Tensor basics: creation, shapes and dtypes, views that share storage, copies, conversions
// and element access.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "framework/core/tensor.h"

using oa::DType;
using oa::Shape;
using oa::Tensor;

namespace {
// 0, 1, ..., n-1 as a float32 tensor of `shape`.
Tensor iota(const Shape& shape) {
  std::vector<float> v(static_cast<std::size_t>(oa::shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return Tensor::from_vector(v, shape);
}
}  // namespace

TEST_CASE("tensor: creation sets shape, dtype and values") {
  const Tensor z = Tensor::zeros({2, 3, 4});
  CHECK(z.shape() == Shape{2, 3, 4});
  CHECK(z.dim() == 3);
  CHECK(z.numel() == 24);
  CHECK(z.size(1) == 3);
  CHECK(z.size(-1) == 4);
  CHECK(z.dtype() == DType::Float32);
  CHECK(z.device() == oa::Device::CPU);
  CHECK(z.nbytes() == 24 * 4);
  CHECK(z.at({1, 2, 3}) == 0.0);

  const Tensor f = Tensor::full({3}, 2.5, DType::Float64);
  CHECK(f.dtype() == DType::Float64);
  CHECK(f.nbytes() == 3 * 8);
  CHECK(f.to_vector<double>() == std::vector<double>{2.5, 2.5, 2.5});
  CHECK(Tensor::ones({2}).to_vector<float>() == std::vector<float>{1, 1});

  const Tensor s = Tensor::scalar(7.0);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 7.0);
  CHECK(oa::describe(Tensor::zeros({2, 3}, DType::Int64)) == "Tensor[2, 3] int64 cpu");
}

TEST_CASE("tensor: from_vector is row-major and at/set address elements") {
  Tensor t = iota({2, 3});
  CHECK(t.at({0, 2}) == 2.0);
  CHECK(t.at({1, 0}) == 3.0);
  t.set({1, 1}, -4.5);
  CHECK(t.at({1, 1}) == -4.5);
  CHECK(t.to_vector<float>() == std::vector<float>{0, 1, 2, 3, -4.5f, 5});

  Tensor labels = Tensor::from_vector<std::int64_t>({3, 1}, {2});
  CHECK(labels.dtype() == DType::Int64);
  labels.set({0}, 9);
  CHECK(labels.at({0}) == 9.0);
  CHECK_THROWS_AS(t.at({2, 0}), oa::Error);  // out of range
  CHECK_THROWS_AS(t.at({0}), oa::Error);     // wrong number of indices
  CHECK_THROWS_AS(t.item(), oa::Error);      // more than one element
}

TEST_CASE("tensor: reshape and flatten are views sharing storage") {
  const Tensor x = iota({2, 3, 4});
  Tensor r = x.reshape({4, -1});
  CHECK(r.shape() == Shape{4, 6});  // -1 inferred
  CHECK(r.same_storage(x));
  r.set({3, 5}, 100.0);  // the last element
  CHECK(x.at({1, 2, 3}) == 100.0);
  CHECK(r.at({1, 0}) == 6.0);  // row-major order kept

  CHECK(x.reshape({-1}).shape() == Shape{24});
  CHECK(x.reshape({2, -1, 3}).shape() == Shape{2, 4, 3});
  CHECK(x.flatten().shape() == Shape{2, 12});
  CHECK(x.flatten(0).shape() == Shape{24});
  CHECK(x.flatten(2).shape() == Shape{2, 3, 4});
  CHECK(x.flatten().same_storage(x));
  CHECK(Tensor::scalar(3.0).reshape({1, 1}).shape() == Shape{1, 1});
}

TEST_CASE("tensor: clone, detach, copy_ and fill_") {
  Tensor x = iota({2, 2});
  Tensor c = x.clone();
  CHECK_FALSE(c.same_storage(x));
  c.set({0, 0}, 42.0);
  CHECK(x.at({0, 0}) == 0.0);  // the original is untouched
  CHECK(c.to_vector<float>() == std::vector<float>{42, 1, 2, 3});

  Tensor d = x.detach();
  CHECK(d.same_storage(x));

  x.fill_(1.5);
  CHECK(x.to_vector<float>() == std::vector<float>{1.5, 1.5, 1.5, 1.5});
  x.copy_(Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2}));  // converts float64 to float32
  CHECK(x.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("tensor: to(dtype) converts values into a new tensor") {
  const Tensor x = Tensor::from_vector<float>({1.75f, -2.5f, 3.0f}, {3});
  const Tensor d = x.to(DType::Float64);
  CHECK(d.dtype() == DType::Float64);
  CHECK(d.shape() == Shape{3});
  CHECK(d.to_vector<double>() == std::vector<double>{1.75, -2.5, 3.0});
  CHECK_FALSE(d.same_storage(x));

  const Tensor i = x.to(DType::Int64);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 3});  // truncation
  CHECK(i.to(DType::Float32).to_vector<float>() == std::vector<float>{1, -2, 3});
}

TEST_CASE("tensor: requires_grad flags") {
  Tensor x = Tensor::zeros({2});
  CHECK_FALSE(x.requires_grad());
  CHECK(x.is_leaf());
  x.set_requires_grad();
  CHECK(x.requires_grad());
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(x.detach().requires_grad());
  CHECK_FALSE(x.clone().requires_grad());
  x.set_requires_grad(false);
  CHECK_FALSE(x.requires_grad());
}
