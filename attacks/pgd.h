#pragma once
// Projected gradient descent (Madry et al. 2017), Linf or L2, batched.
//
// Ascends the cross-entropy of the true label (descends that of the target when targeted)
// from a random start inside the eps-ball, with steps of size `step` (sign of the gradient for
// Linf, the normalised gradient for L2), projecting onto the eps-ball around x and the [0, 1]
// box after each step. The first adversarial iterate found is kept (PGD is used here for
// success at a fixed budget, not for minimal distances). The result is verified.
#include <cstdint>

#include "attacks/adversarial.h"

namespace oa::attacks {

enum class Norm { Linf, L2 };

struct PgdOptions {
  Norm norm = Norm::Linf;
  double eps = 0.1;
  double step = 0.0;            // 0: 2.5 * eps / iterations (Madry et al.)
  std::int64_t iterations = 40;
  bool random_start = true;
  std::uint64_t seed = 0;
  bool targeted = false;
  // The random start of sample i is the one of row first_row + i of a batch drawn with `seed`:
  // a slice of a batch (a rank's share) gets the starts its rows get in the whole batch.
  std::int64_t first_row = 0;
};

AttackOutput pgd(nn::Module& model, const Tensor& x, const Tensor& labels, const PgdOptions& options);

// The examples of adversarial training (Madry et al. 2017): every sample takes all
// options.iterations steps from its start (random if options.random_start) and the last
// iterate is returned, adversarial or not: training wants the loss maximised inside the ball,
// not just a point over the boundary. Not verified (a failure is not reset to the clean input);
// options.targeted must be false. The model runs frozen in eval mode, as in pgd().
Tensor pgd_training_examples(nn::Module& model, const Tensor& x, const Tensor& labels, const PgdOptions& options);

// An upper bound on each sample's minimal distance: PGD at radius options.eps, then `steps`
// bisections of the radius per sample (success halves it from above, failure from below).
// The smallest-radius adversarial example found is reported (its distance <= that radius);
// a sample PGD cannot break at options.eps is a failure.
AttackOutput pgd_bisect(nn::Module& model, const Tensor& x, const Tensor& labels, const PgdOptions& options,
                        std::int64_t steps);

}  // namespace oa::attacks
