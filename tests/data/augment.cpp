// Augmentation: a padded random crop is a shifted copy of the image with zeros where the
// shift uncovers the border; a flip mirrors some images and leaves the others; both repeat
// exactly with the same Rng seed.
#include <doctest/doctest.h>

#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "framework/data/augment.h"

using oa::Rng;
using oa::Tensor;

namespace {

constexpr std::int64_t kN = 16, kC = 2, kH = 5, kW = 6;

// [kN, kC, kH, kW] with distinct non-zero values (1 + flat index), so a shift is recognisable.
Tensor numbered_batch() {
  std::vector<float> values(kN * kC * kH * kW);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i + 1);
  return Tensor::from_vector(values, {kN, kC, kH, kW});
}

// Value of image i at (c, y, x) in a flat [kN, kC, kH, kW] vector.
float value(const std::vector<float>& v, std::int64_t i, std::int64_t c, std::int64_t y, std::int64_t x) {
  return v[static_cast<std::size_t>(((i * kC + c) * kH + y) * kW + x)];
}

// The (dy, dx) with out(y, x) = in(y + dy, x + dx), 0 outside the image, for image i; if any.
std::optional<std::pair<int, int>> find_shift(const std::vector<float>& in, const std::vector<float>& out,
                                              std::int64_t i, int pad) {
  for (int dy = -pad; dy <= pad; ++dy)
    for (int dx = -pad; dx <= pad; ++dx) {
      bool match = true;
      for (std::int64_t c = 0; c < kC; ++c)
        for (std::int64_t y = 0; y < kH; ++y)
          for (std::int64_t x = 0; x < kW; ++x) {
            const bool inside = y + dy >= 0 && y + dy < kH && x + dx >= 0 && x + dx < kW;
            const float expected = inside ? value(in, i, c, y + dy, x + dx) : 0.0f;
            match = match && value(out, i, c, y, x) == expected;
          }
      if (match) return std::pair{dy, dx};
    }
  return std::nullopt;
}

bool mirrored(const std::vector<float>& in, const std::vector<float>& out, std::int64_t i) {
  for (std::int64_t c = 0; c < kC; ++c)
    for (std::int64_t y = 0; y < kH; ++y)
      for (std::int64_t x = 0; x < kW; ++x)
        if (value(out, i, c, y, x) != value(in, i, c, y, kW - 1 - x)) return false;
  return true;
}

bool same_image(const std::vector<float>& a, const std::vector<float>& b, std::int64_t i) {
  const auto first = static_cast<std::ptrdiff_t>(i * kC * kH * kW), last = first + kC * kH * kW;
  return std::equal(a.begin() + first, a.begin() + last, b.begin() + first);
}

}  // namespace

TEST_CASE("random_crop_with_padding: a shifted copy with zeros, same shape, seeded") {
  const auto original = numbered_batch().to_vector<float>();
  Tensor batch = numbered_batch();
  Rng rng(11);
  oa::data::random_crop_with_padding(batch, 2, rng);
  CHECK(batch.shape() == oa::Shape{kN, kC, kH, kW});
  const auto cropped = batch.to_vector<float>();
  std::set<std::pair<int, int>> shifts;
  for (std::int64_t i = 0; i < kN; ++i) {
    const auto shift = find_shift(original, cropped, i, 2);
    REQUIRE_MESSAGE(shift.has_value(), "image " << i << " is not a shifted copy");
    shifts.insert(*shift);
  }
  CHECK(shifts.size() >= 4);  // the offsets vary from image to image

  Tensor again = numbered_batch();
  Rng same(11);
  oa::data::random_crop_with_padding(again, 2, same);
  CHECK(again.to_vector<float>() == cropped);

  Tensor untouched = numbered_batch();
  oa::data::random_crop_with_padding(untouched, 0, rng);
  CHECK(untouched.to_vector<float>() == original);
}

TEST_CASE("random_horizontal_flip: each image mirrored or left, about half each, seeded") {
  const auto original = numbered_batch().to_vector<float>();
  Tensor batch = numbered_batch();
  Rng rng(5);
  oa::data::random_horizontal_flip(batch, rng);
  const auto flipped = batch.to_vector<float>();
  int mirrored_count = 0;
  for (std::int64_t i = 0; i < kN; ++i) {
    const bool m = mirrored(original, flipped, i);
    REQUIRE((m || same_image(original, flipped, i)));
    mirrored_count += m;
  }
  CHECK(mirrored_count > 0);
  CHECK(mirrored_count < kN);

  Tensor again = numbered_batch();
  Rng same(5);
  oa::data::random_horizontal_flip(again, same);
  CHECK(again.to_vector<float>() == flipped);
}

TEST_CASE("augmentation: bad batches are refused") {
  Rng rng(0);
  Tensor three_d = Tensor::zeros({2, 3, 4});
  CHECK_THROWS_WITH(oa::data::random_horizontal_flip(three_d, rng), doctest::Contains("must have 4 dimensions"));
  Tensor doubles = Tensor::zeros({1, 1, 2, 2}, oa::DType::Float64);
  CHECK_THROWS_WITH(oa::data::random_crop_with_padding(doubles, 1, rng), doctest::Contains("must be float32"));
  Tensor batch = Tensor::zeros({1, 1, 2, 2});
  CHECK_THROWS_WITH(oa::data::random_crop_with_padding(batch, -1, rng), doctest::Contains("pad must be >= 0"));
}
