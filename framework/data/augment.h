#pragma once
// Training-time augmentation of an image batch float32 [N, C, H, W] on the CPU, in place
// (the batch's own storage is overwritten; clone first to keep the original). The random
// choices are drawn from `rng` one image after the other, so the same Rng state always
// gives the same augmented batch.
#include <cstdint>

#include "framework/core/random.h"
#include "framework/core/tensor.h"

namespace oa::data {

// Pads every image with `pad` zeros on each side and keeps an H x W window of the padded
// image at a random offset (uniform in [0, 2 pad] per axis and image): the image moves by
// up to `pad` pixels and the uncovered border is 0. CIFAR training uses pad = 4.
// pad = 0 changes nothing and draws nothing.
void random_crop_with_padding(Tensor& batch, std::int64_t pad, Rng& rng);

// Mirrors each image left-right with probability 0.5.
void random_horizontal_flip(Tensor& batch, Rng& rng);

}  // namespace oa::data
