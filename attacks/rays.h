#pragma once
// RayS (Chen & Gu 2020, arXiv 2006.12792): a label-only (hard-label) black-box attack that
// estimates each sample's minimal adversarial Linf distance, as in the authors' code
// (github.com/uclaml/RayS).
//
// The search is over ray directions v in {-1, +1}^D (D = C*H*W, sign vectors: the vertices
// of the Linf ball). For a direction v, the boundary distance is the smallest d with
//     f(clip(x + d * v / sqrt(D), 0, 1)) != y,
// and its Linf radius is d / sqrt(D). Each sample keeps its best direction v* and distance d*.
// Hierarchical search: at level k the D coordinates (flattened C, H, W) are cut into 2^k
// blocks; each block in turn is sign-flipped in v*, and the flipped direction is tried:
//     1. one query at d*: not adversarial there means it cannot beat d*, next block;
//     2. else a binary search of its distance on [0, min(d*, sqrt(D))] down to `tolerance`,
//        and the direction becomes v* with its (smaller) distance.
// After the last block of a level, the next level halves the blocks, down to single
// coordinates, which then repeat. The first direction tried is all -1 (the all +1 start with
// its first block, the whole vector, flipped). Every label asked is a counted query; a sample
// stops when its budget is spent, or, with eps > 0, once its distance is <= eps. The
// returned example is clip(x + d* v* / sqrt(D)) of the best direction; it is adversarial by
// the query that found it (the caller's verify() re-checks it). Deterministic: no seed.
#include <cstdint>

#include "attacks/query_model.h"

namespace oa::attacks {

struct RaysOptions {
  // 0: spend the whole budget on the minimal distance, success = some adversarial direction
  // found, queries = all spent. > 0: stop a sample at Linf distance <= eps (queries to that
  // point); a sample still farther at the end of its budget is a failure.
  double eps = 0.0;
  // The binary search stops when its interval is this short, in the authors' units (length
  // along the unit-L2 direction v / sqrt(D)): a Linf resolution of tolerance / sqrt(D).
  double tolerance = 1e-3;
};

// x: clean inputs [N, C, H, W] in [0, 1], untargeted; labels: the true labels. The budget is
// the query model's. Not verified: the caller runs verify() with the model it wraps.
AttackOutput rays(LabelQueryModel& model, const Tensor& x, const Tensor& labels, const RaysOptions& options);

}  // namespace oa::attacks
