#pragma once
// ImageNet-style folder trees: root/<class name>/<image>.{jpg,jpeg,png} (extensions in any
// case, so ImageNet's .JPEG files count). Classes are the sub-directories sorted by name
// (index 0 = first name); inside a class the files are sorted by name. Other files are skipped.
// Each image is decoded with stb_image, its shorter side resized to `resize`, and the centre
// `crop` x `crop` kept: torchvision's Resize(256) + CenterCrop(224) evaluation pipeline.
// Pixels stay in [0, 1]; normalisation (data::normalize) belongs to the model.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/dataset.h"

namespace oa::data {

struct ImageFolderOptions {
  std::int64_t resize = 256;  // the shorter side after resizing (the longer one keeps the aspect ratio)
  std::int64_t crop = 224;    // side of the centre crop; must not exceed resize
  bool grayscale = false;     // decode to 1 channel (stb_image's luminance) instead of 3 (RGB)
};

// The per-channel mean and standard deviation of ImageNet that torchvision's pretrained
// models expect: pass them to data::normalize.
inline const std::vector<float> kImageNetMean{0.485f, 0.456f, 0.406f};
inline const std::vector<float> kImageNetStd{0.229f, 0.224f, 0.225f};

// All images under root as one Dataset (class_names filled). Decodes on the OpenMP threads.
// Throws for: root not a directory, no class directories, a class directory without images,
// an image stb_image cannot decode (naming the file and stb's reason), an image above 32 Mpx
// (as decoded, or once resized), and files that would trip Debian's stb_image 2.27 (a JPEG
// Huffman table of more than 256 codes, a PNG chunk longer than the file).
Dataset load_image_folder(const std::string& root, const ImageFolderOptions& options = {});

// One image file through the same pipeline: float32 [C, crop, crop] in [0, 1].
Tensor load_image(const std::string& path, const ImageFolderOptions& options = {});

// ---- the two steps of the pipeline, on float32 tensors [..., H, W] (CPU) -----------------

// Resizes the last two dims to out_h x out_w. Each output pixel is a weighted mean of input
// pixels with a triangle ("tent") weight: plain bilinear interpolation when enlarging; when
// shrinking, the triangle widens by the shrink factor so every input pixel contributes
// (antialiasing, the same idea as PIL's bilinear resize that torchvision uses).
Tensor resize_bilinear(const Tensor& images, std::int64_t out_h, std::int64_t out_w);

// The centre h x w window of the last two dims; odd margins put the extra row/column
// below/right of the window (top = (H - h) / 2 rounded down).
Tensor center_crop(const Tensor& images, std::int64_t h, std::int64_t w);

}  // namespace oa::data
