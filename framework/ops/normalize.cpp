// normalize: per-channel standardisation of images, the first step of torchvision's
// pretrained models. For x [N, C, H, W] and constants mean[C], std[C]:
//   forward:  y[n, c, h, w] = (x[n, c, h, w] - mean[c]) / std[c]
//   backward: dL/dx[n, c, h, w] = dL/dy[n, c, h, w] / std[c]
// The op is written with sub and div on [1, C, 1, 1] constants, whose backward rules give
// exactly that gradient (the constants need none). It runs on any device and dtype.
#include <cmath>

#include "framework/ops/ops.h"

namespace oa {

Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  check_floating(x, "normalize");
  check_rank(x, 4, "normalize", "x");
  const std::int64_t channels = x.size(1);
  OA_CHECK(static_cast<std::int64_t>(mean.size()) == channels && static_cast<std::int64_t>(std.size()) == channels,
           "normalize: {} has {} channels but mean has {} and std {} entries", describe(x), channels, mean.size(),
           std.size());
  for (double s : std) OA_CHECK(s > 0.0 && std::isfinite(s), "normalize: std must be positive and finite, got {}", std);
  auto per_channel = [&](const std::vector<double>& v) {
    return Tensor::from_vector(v, {1, channels, 1, 1}).to(x.dtype()).to(x.device());
  };
  return (x - per_channel(mean)) / per_channel(std);
}

}  // namespace oa
