#pragma once
// Square Attack (Andriushchenko et al. 2020, arXiv 1912.00049), Linf and L2: a score-based
// black-box attack by random search, as in the authors' code (github.com/max-andr/square-attack).
//
// Each sample keeps its best point x_best and the margin loss there,
//     L(x) = z_y(x) - max_{j != y} z_j(x)     (positive while x is classified as y),
// and repeats: propose a candidate that differs from x_best on one square window of side s,
// query its scores (one query), keep it only if L drops; stop at L < 0 (success) or when the
// sample's query budget is spent. The first query is the initialisation:
//     Linf: vertical stripes, each column of each channel shifted by a random +-eps;
//     L2:   a 5x5 tiling of pseudo-Gaussian bumps of side h/5 with random signs, scaled to
//           norm eps.
// Proposals:
//     Linf: the window (random position per image) of every channel gets a new random +-eps;
//           a draw that changes no pixel is redrawn before it is sent (not counted).
//     L2:   window 1 gets a new pseudo-Gaussian bump (random sign per channel) blended with its
//           old perturbation and the perturbation mass of window 2, which is zeroed; the whole
//           perturbation is rescaled to norm eps. A proposal equal to x_best is redrawn.
// The window side s = sqrt(p * pixels per channel), where p (the fraction of pixels changed)
// halves at iterations 10, 50, 200, 500, 1k, 2k, 4k, 6k, 8k of 10k, rescaled to the budget
// (iteration i of a budget of Q queries is iteration i * 10000 / Q of the schedule).
// Candidates are clipped to the [0, 1] box. Window positions range over every position
// inside the image, as in the paper's Algorithm 2 (the authors' code never draws the last
// row and column, which leaves them untouched on tiny images).
// Every answer the attack reads, success checks included, is a counted query; the budget
// is the query model's (model.budget()), to which the p schedule is rescaled.
#include <cstdint>

#include "attacks/pgd.h"
#include "attacks/query_model.h"

namespace oa::attacks {

struct SquareOptions {
  Norm norm = Norm::Linf;
  double eps = 0.05;    // the radius of the ball
  double p_init = 0.0;  // the initial fraction of pixels changed; 0: the paper's 0.05 (Linf), 0.1 (L2)
  std::uint64_t seed = 0;
};

// x: clean inputs [N, C, H, W] in [0, 1] (H, W >= 2; >= 5 for L2), untargeted; labels: the true
// labels. Not verified: the caller runs verify() with the model the query model wraps.
AttackOutput square(ScoreQueryModel& model, const Tensor& x, const Tensor& labels, const SquareOptions& options);

}  // namespace oa::attacks
