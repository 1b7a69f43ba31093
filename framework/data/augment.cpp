#include "framework/data/augment.h"

#include <algorithm>
#include <vector>

namespace oa::data {

namespace {

void check_batch(const Tensor& batch, const char* op) {
  check_rank(batch, 4, op, "batch");
  check_dtype(batch, DType::Float32, op, "batch");
  OA_CHECK(batch.device() == Device::CPU, "{}: needs a CPU batch, got {}", op, describe(batch));
}

// A uniform integer in [0, n); the modulo bias is below 2^-50 for the small n used here.
std::int64_t draw_below(Rng& rng, std::int64_t n) {
  return static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(n));
}

}  // namespace

void random_crop_with_padding(Tensor& batch, std::int64_t pad, Rng& rng) {
  check_batch(batch, "random_crop_with_padding");
  OA_CHECK(pad >= 0, "random_crop_with_padding: pad must be >= 0, got {}", pad);
  if (pad == 0) return;
  const std::int64_t n = batch.size(0), c = batch.size(1), h = batch.size(2), w = batch.size(3);
  std::vector<float> original(static_cast<std::size_t>(c * h * w));
  for (std::int64_t i = 0; i < n; ++i) {
    // Output pixel (y, x) is input pixel (y + dy, x + dx), or 0 where that lies outside.
    const std::int64_t dy = draw_below(rng, 2 * pad + 1) - pad;
    const std::int64_t dx = draw_below(rng, 2 * pad + 1) - pad;
    float* image = batch.data<float>() + i * c * h * w;
    std::copy(image, image + c * h * w, original.begin());
    // The columns x with 0 <= x + dx < w.
    const std::int64_t x_begin = std::clamp<std::int64_t>(-dx, 0, w), x_end = std::clamp<std::int64_t>(w - dx, 0, w);
    for (std::int64_t plane = 0; plane < c; ++plane)
      for (std::int64_t y = 0; y < h; ++y) {
        float* row = image + (plane * h + y) * w;
        std::fill(row, row + w, 0.0f);
        if (y + dy < 0 || y + dy >= h || x_begin >= x_end) continue;
        const float* source = original.data() + (plane * h + y + dy) * w;
        std::copy(source + x_begin + dx, source + x_end + dx, row + x_begin);
      }
  }
}

void random_horizontal_flip(Tensor& batch, Rng& rng) {
  check_batch(batch, "random_horizontal_flip");
  const std::int64_t n = batch.size(0), rows = batch.size(1) * batch.size(2), w = batch.size(3);
  for (std::int64_t i = 0; i < n; ++i) {
    if (rng.next() % 2 == 0) continue;
    float* image = batch.data<float>() + i * rows * w;
    for (std::int64_t r = 0; r < rows; ++r) std::reverse(image + r * w, image + (r + 1) * w);
  }
}

}  // namespace oa::data
