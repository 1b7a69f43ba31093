#include "framework/data/dataset.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>


namespace oa::data {

Tensor take_rows(const Tensor& x, const std::vector<std::int64_t>& indices) {
  OA_CHECK(x.device() == Device::CPU, "take_rows: needs a CPU tensor, got {}", describe(x));
  Shape shape = x.shape();
  const std::int64_t rows = shape.at(0);
  shape[0] = static_cast<std::int64_t>(indices.size());
  Tensor out = Tensor::empty(shape, x.dtype());
  const std::size_t row_bytes = x.nbytes() / static_cast<std::size_t>(std::max<std::int64_t>(rows, 1));
  const auto* src = static_cast<const char*>(x.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    OA_CHECK(indices[i] >= 0 && indices[i] < rows, "take_rows: index {} out of range for {}", indices[i], describe(x));
    std::memcpy(dst + i * row_bytes, src + indices[i] * row_bytes, row_bytes);
  }
  return out;
}

Dataset head(const Dataset& d, std::int64_t n) {
  if (n <= 0 || n >= d.size()) return d;
  std::vector<std::int64_t> first(static_cast<std::size_t>(n));
  std::iota(first.begin(), first.end(), 0);
  return {d.name, take_rows(d.images, first), take_rows(d.labels, first), d.classes, d.class_names};
}

std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed, std::int64_t epoch) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // seed_seq keeps 32 bits of each value: pass both halves of the 64-bit seed and epoch.
  const auto e = static_cast<std::uint64_t>(epoch);
  std::seed_seq seq{seed & 0xffffffffu, seed >> 32, e & 0xffffffffu, e >> 32, std::uint64_t{0x5eed}};
  std::mt19937_64 engine(seq);
  std::shuffle(order.begin(), order.end(), engine);
  return order;
}

}  // namespace oa::data
