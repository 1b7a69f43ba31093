#pragma once
// The transfer baseline of the black-box attacks: a white-box attack of ours on a surrogate
// model (one the attacker owns, e.g. its own compressed copy), the example sent to the target,
// then a line search along it with a few label queries.
//
// 1. PGD at radius eps on the surrogate (attacks/pgd.h) gives delta = x_adv - x per sample.
// 2. The direction is stretched to the edge of the eps-ball, t_max = eps / ||delta||, and the
//    target is asked once for the label of clip(x + t_max delta, 0, 1): the strongest point of
//    the ball along delta. Not adversarial there: a failure (the example does not transfer).
// 3. Adversarial: `line_search` bisection steps of the scale t on [0, t_max] (an adversarial
//    midpoint becomes the upper end, a clean one the lower end), each one label query; the
//    example returned is that of the smallest adversarial scale found.
// A sample whose PGD fails on the surrogate has no direction: a failure with no query. Queries
// are all those spent (1 + the line search steps), within the query model's budget.
#include <cstdint>

#include "attacks/pgd.h"
#include "attacks/query_model.h"

namespace oa::attacks {

struct TransferOptions {
  Norm norm = Norm::Linf;
  double eps = 0.05;
  std::int64_t iterations = 40;  // PGD's on the surrogate
  std::int64_t line_search = 10;
  std::uint64_t seed = 0;        // PGD's random start
};

// x: clean inputs [N, C, H, W] in [0, 1] (on the surrogate's device), untargeted; labels: the
// true labels. Not verified: the caller runs verify() with the model the query model wraps.
AttackOutput transfer(LabelQueryModel& target, nn::Module& surrogate, const Tensor& x, const Tensor& labels,
                      const TransferOptions& options);

}  // namespace oa::attacks
