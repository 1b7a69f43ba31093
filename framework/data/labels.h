#pragma once
// The study's memorisation control: every sample is relabelled by the parity of its index
// in the dataset (even index -> 0, odd index -> 1). The two classes are balanced and have
// nothing to do with the image, so whatever a network learns on them is pure memorisation.
#include <cstdint>

#include "framework/data/dataset.h"

namespace oa::data {

// int64 [n] with label i % 2 for sample i.
Tensor parity_labels(std::int64_t n);

// The same images with parity labels: classes = 2, class names "even" and "odd".
Dataset with_parity_labels(Dataset d);

}  // namespace oa::data
