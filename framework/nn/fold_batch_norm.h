#pragma once
// Folding eval-mode BatchNorm into the convolution before it: for frozen models (evaluation,
// attacks), where the BatchNorm is a fixed affine map per channel. With
//   s[c] = gamma[c] / sqrt(running_var[c] + eps),
//   BN(conv(x))[c] = s[c] * (W[c] * x + b[c] - running_mean[c]) + beta[c]
//                  = (s[c] W[c]) * x + (s[c] (b[c] - running_mean[c]) + beta[c]),
// one conv with weight s[c] W[c] and that bias computes both, and the BatchNorm becomes an
// Identity: one pass over the activations less, forward and backward. A ReLU declared after the
// BatchNorm moves into that conv too (Conv2dOptions::relu, ops conv2d_relu: applied as the
// convolution writes its output) and becomes an Identity: one more pass less, forward.
#include "framework/nn/module.h"

namespace oa::nn {

// Folds every conv -> BatchNorm pair the modules of `model` declare (Module::conv_norm_pairs),
// with the ReLU after it where one is declared, and returns how many pairs. In place and for
// good: the folded model computes the same function in eval mode, but its parameters are no
// longer the checkpoint's (never train or save it). The model must be in eval mode. The convs
// keep their buffers (pruning masks) and whether their weights require gradients.
int fold_batch_norm(Module& model);

}  // namespace oa::nn
