#pragma once
// Unstructured magnitude pruning (Han et al. 2015; the method of Zhu & Gupta 2017 and of
// Hooker et al. 2019): zero the weights of smallest |w| in the conv and linear layers.
//   global: one threshold across all selected layers (layers keep different sparsities);
//   layer:  the same fraction in every selected layer.
// BatchNorm parameters and biases are never pruned. Pruning is monotone: weights already
// masked stay masked (they count towards the target), so a ladder of rising sparsities
// prunes further and further. The achieved sparsity is exact: round(sparsity * n) weights of
// the n selected ones (per layer for `layer`) are masked, ties broken by position.
#include "framework/nn/module.h"

namespace oa::prune {

enum class Scope { Global, Layer };

struct MagnitudeOptions {
  double sparsity = 0.5;  // fraction of the selected weights set to zero, in [0, 1)
  Scope scope = Scope::Global;
  bool keep_first_dense = false;  // leave the first conv (the stem) dense
  bool keep_last_dense = false;   // leave the last layer (the classifier) dense
};

// Adds or tightens the masks of the selected layers and zeroes the masked weights.
// Throws when the target is below the sparsity the masks already have.
void magnitude_prune(nn::Module& model, const MagnitudeOptions& options);

}  // namespace oa::prune
