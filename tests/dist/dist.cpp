// dist: the sharded sampler and batch slices for worlds of 1..5 ranks (no MPI needed), and the
// collectives, which run in whatever world the test was launched in: alone (size 1) or under
// mpirun -np 2 (ctest's dist_mpi), where OA_TEST_EXPECT_RANKS says how many ranks to expect.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>

#include "framework/core/random.h"
#include "framework/dist/dist.h"
#include "framework/nn/layers.h"

using namespace oa;

TEST_CASE("shard: disjoint, deterministic, in order, and together every item, for 1..5 ranks") {
  for (int size = 1; size <= 5; ++size)
    for (std::int64_t count : {0, 1, 4, 5, 7, 23}) {
      std::multiset<std::int64_t> all;
      for (int r = 0; r < size; ++r) {
        const auto mine = dist::shard(count, r, size);
        CHECK(mine == dist::shard(count, r, size));
        CHECK(std::is_sorted(mine.begin(), mine.end()));
        // Balanced: the shards differ in size by at most one.
        CHECK(static_cast<std::int64_t>(mine.size()) >= count / size);
        CHECK(static_cast<std::int64_t>(mine.size()) <= (count + size - 1) / size);
        all.insert(mine.begin(), mine.end());
      }
      REQUIRE(static_cast<std::int64_t>(all.size()) == count);  // a repeat would make it larger
      std::int64_t expected = 0;
      for (const std::int64_t i : all) CHECK(i == expected++);  // each position exactly once
    }
}

TEST_CASE("batch_slice: consecutive slices covering the batch, sizes within one, for 1..5 ranks") {
  for (int size = 1; size <= 5; ++size)
    for (std::int64_t rows : {0, 1, 3, 20, 21}) {
      std::int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const auto slice = dist::batch_slice(rows, r, size);
        CHECK(slice.begin == next);
        CHECK(slice.size() >= rows / size);
        CHECK(slice.size() <= (rows + size - 1) / size);
        next = slice.end;
      }
      CHECK(next == rows);
    }
}

TEST_CASE("shard and batch_slice: bad arguments are errors that name them") {
  CHECK_THROWS_WITH(dist::shard(10, 0, 0), doctest::Contains("world size must be at least 1"));
  CHECK_THROWS_WITH(dist::shard(10, 3, 3), doctest::Contains("rank 3 is outside [0, 3)"));
  CHECK_THROWS_WITH(dist::shard(-1, 0, 1), doctest::Contains("must be non-negative, got -1"));
  CHECK_THROWS_WITH(dist::batch_slice(5, -1, 2), doctest::Contains("rank -1 is outside [0, 2)"));
}

TEST_CASE("the world has the size the launcher asked for") {
  const char* expected = std::getenv("OA_TEST_EXPECT_RANKS");
  CHECK(dist::world_size() == (expected ? std::atoi(expected) : 1));
  CHECK(dist::rank() >= 0);
  CHECK(dist::rank() < dist::world_size());
}

// Rank r contributes (r + 1) * v: the sum over K ranks is v * K (K + 1) / 2.
template <class T>
void check_all_reduce_sum() {
  const int K = dist::world_size();
  const std::vector<T> v = {T(1), T(-2.5), T(1e-3), T(1e6), T(0), T(3.25), T(7)};
  std::vector<T> mine;
  for (const T x : v) mine.push_back(x * T(dist::rank() + 1));
  Tensor t = Tensor::from_vector(mine, {7});
  dist::all_reduce_sum(t);
  const auto sum = t.to_vector<T>();
  for (std::size_t i = 0; i < v.size(); ++i) CHECK(sum[i] == doctest::Approx(double(v[i]) * K * (K + 1) / 2).epsilon(1e-6));
  Tensor m = Tensor::from_vector(mine, {7});
  dist::all_reduce_mean(m);
  const auto mean = m.to_vector<T>();
  for (std::size_t i = 0; i < v.size(); ++i) CHECK(mean[i] == doctest::Approx(double(v[i]) * (K + 1) / 2).epsilon(1e-6));
}

TEST_CASE("all_reduce_sum and all_reduce_mean, float32 and float64") {
  check_all_reduce_sum<float>();
  check_all_reduce_sum<double>();
  Tensor labels = Tensor::from_vector(std::vector<std::int64_t>{1, 2}, {2});
  CHECK_THROWS_WITH(dist::all_reduce_sum(labels), doctest::Contains("expected a float32 or float64 tensor"));
  std::vector<double> counts = {1.0, double(dist::rank())};
  dist::all_reduce_sum(counts);
  CHECK(counts[0] == dist::world_size());
  CHECK(counts[1] == dist::world_size() * (dist::world_size() - 1) / 2);
}

TEST_CASE("broadcast: every rank gets the root's values, int64 included") {
  const int root = dist::world_size() - 1;  // the last rank, so that the root is not always 0
  Tensor f = Tensor::full({3, 2}, 10.0 + dist::rank(), DType::Float64);
  Tensor n = Tensor::full({4}, 100.0 + dist::rank(), DType::Int64);
  dist::broadcast(f, root);
  dist::broadcast(n, root);
  for (const double x : f.to_vector<double>()) CHECK(x == 10.0 + root);
  for (const std::int64_t x : n.to_vector<std::int64_t>()) CHECK(x == 100 + root);
  CHECK_THROWS_WITH(dist::broadcast(f, dist::world_size()), doctest::Contains("is not a rank of a world of"));
}

TEST_CASE("gather_text: the root gets every rank's text in rank order, the others nothing") {
  const std::string mine(static_cast<std::size_t>(dist::rank() + 1), static_cast<char>('a' + dist::rank()));
  const auto texts = dist::gather_text(mine);
  if (dist::rank() != 0) {
    CHECK(texts.empty());
    return;
  }
  REQUIRE(static_cast<int>(texts.size()) == dist::world_size());
  for (int r = 0; r < dist::world_size(); ++r)
    CHECK(texts[r] == std::string(static_cast<std::size_t>(r + 1), static_cast<char>('a' + r)));
}

TEST_CASE("all_reduce_gradients sums every gradient; broadcast_module copies root's model") {
  Rng rng(dist::rank() + 1);  // different weights on each rank
  nn::Linear layer(3, 2, rng);
  dist::broadcast_module(layer);
  Rng root_rng(1);
  nn::Linear root_layer(3, 2, root_rng);
  CHECK(layer.weight.to_vector<float>() == root_layer.weight.to_vector<float>());
  // Gradients: weight's is (rank + 1) everywhere; bias has none (no backward reached it): with
  // several ranks it takes part as zeros, alone it is left undefined (nothing changes).
  layer.weight.impl().grad = Tensor::full(layer.weight.shape(), dist::rank() + 1.0).impl_ptr();
  dist::all_reduce_gradients(layer);
  const int K = dist::world_size();
  for (const float g : layer.weight.grad().to_vector<float>()) CHECK(g == float(K * (K + 1) / 2));
  if (K == 1) {
    CHECK_FALSE(layer.bias.grad().defined());
    return;
  }
  REQUIRE(layer.bias.grad().defined());
  for (const float g : layer.bias.grad().to_vector<float>()) CHECK(g == 0.0f);
}

int main(int argc, char** argv) {
  dist::Session session;
  doctest::Context context(argc, argv);
  const int failures = context.run();
  // Every rank reports its own verdict; a failure on one rank fails the mpirun.
  return failures;
}
