#pragma once
// The random-noise baseline of the black-box attacks: K random perturbations of norm eps per
// sample; success if any of them changes the predicted label.
//
//     Linf: delta_k = eps * s, with s a uniformly random sign per pixel (a vertex of the ball)
//     L2:   delta_k = eps * g / ||g||_2, with g standard Gaussian (a uniform point of the sphere)
//     candidate = clip(x + delta_k, 0, 1)        (the box; it can only shrink the norm)
//
// Each draw is one label query (label-only threat model); a sample stops at its first
// success, or after K draws or its query budget. Its queries are the draws it spent. If noise
// succeeds where gradient attacks need much more distance, the model masks gradients.
#include <cstdint>

#include "attacks/pgd.h"
#include "attacks/query_model.h"

namespace oa::attacks {

struct NoiseOptions {
  Norm norm = Norm::Linf;
  double eps = 0.1;          // the norm of every draw
  std::int64_t draws = 100;  // K per sample, each one query (fewer if the budget is smaller)
  std::uint64_t seed = 0;
};

// x: clean inputs [N, C, H, W] in [0, 1]; labels: the true labels. Not verified: the caller
// runs verify() with the model the query model wraps.
AttackOutput random_noise(LabelQueryModel& model, const Tensor& x, const Tensor& labels, const NoiseOptions& options);

}  // namespace oa::attacks
