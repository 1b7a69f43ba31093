#pragma once
// Folding eval-mode BatchNorm into the convolution before it: for frozen models (evaluation,
// attacks), where the BatchNorm is a fixed affine map per channel. With
//   s[c] = gamma[c] / sqrt(running_var[c] + eps),
//   BN(conv(x))[c] = s[c] * (W[c] * x + b[c] - running_mean[c]) + beta[c]
//                  = (s[c] W[c]) * x + (s[c] (b[c] - running_mean[c]) + beta[c]),
// one conv with weight s[c] W[c] and that bias computes both, and the BatchNorm becomes an
// Identity: one pass over the activations less, forward and backward.
#include "framework/nn/module.h"

namespace oa::nn {

// Folds every conv -> BatchNorm pair the modules of `model` declare (Module::conv_norm_pairs)
// and returns how many. In place and for good: the folded model computes the same function in
// eval mode, but its parameters are no longer the checkpoint's (never train or save it). The
// model must be in eval mode. The convs keep their buffers (pruning masks) and whether their
// weights require gradients.
int fold_batch_norm(Module& model);

}  // namespace oa::nn
