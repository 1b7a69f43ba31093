#pragma once
// ImageNet-style folder trees, read as torchvision's ImageFolder reads them: root/<class>/...
// holds the images of a class, in nested folders too. Classes are the sub-directories of root
// sorted by name (index 0 = first name); inside a class the files come in the order of the
// directory walk sorted by directory, then by file name. Image files are those with
// ImageFolder's extensions, in any case (ImageNet's .JPEG count): .jpg .jpeg .png .ppm .bmp
// .pgm .tif .tiff .webp; stb_image cannot read the last three, which give an error naming the
// file. Other files are skipped.
//
// Conversions (as PIL's convert("RGB") in torchvision's loader): grey-scale images repeat the
// grey value in R, G and B; an alpha channel is dropped (not composited on a background);
// 16-bit PNGs are scaled to 8 bits; Adobe CMYK/YCCK JPEGs are converted to RGB by stb_image
// (each colour channel scaled by K), which PIL does differently: their pixels are not ImageFolder's.
// Truncated, empty or undecodable files, images above kMaxImagePixels, files above 256 MiB and
// files that would trip Debian's stb_image 2.27 (a JPEG Huffman table of more than 256 codes, a
// PNG chunk longer than the file) are errors naming the file.
// Each image is decoded with stb_image, its shorter side resized to `resize`, and the centre
// `crop` x `crop` kept: torchvision's Resize(256) + CenterCrop(224) evaluation pipeline.
// Pixels stay in [0, 1]; normalisation belongs to the model (nn::Normalize).
#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/dataset.h"

namespace oa::data {

struct ImageFolderOptions {
  std::int64_t resize = 256;  // the shorter side after resizing (the longer one keeps the aspect ratio)
  std::int64_t crop = 224;    // side of the centre crop; must not exceed resize
  bool grayscale = false;     // decode to 1 channel (stb_image's luminance) instead of 3 (RGB)
  void check() const;         // throws unless 1 <= crop <= resize
};

// Images with more pixels than this, as decoded or once resized, are refused (naming the file)
// before they are decoded: 32 Mpixel (8192 x 4096, about three times ImageNet's largest; 384 MB
// as float32 RGB). A header may claim up to 2^24 x 2^24 pixels, and stb_image allocates what
// the header claims before it reads the pixels.
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 25;

// The files of an image folder and their labels, without decoding anything: the first
// `limit` files in the order above (all when limit <= 0). Throws for: root not a directory,
// no class directories, a class directory without image files.
struct ImageFolderIndex {
  std::vector<std::string> files;
  std::vector<std::int64_t> labels;
  std::vector<std::string> class_names;  // class index -> directory name
};
ImageFolderIndex index_image_folder(const std::string& root, std::int64_t limit = 0);

// The images of `files` through the pipeline, as float32 [N, C, crop, crop], decoded on the
// OpenMP threads. Throws for an image that cannot be read (naming the file and the reason).
Tensor load_images(const std::vector<std::string>& files, const ImageFolderOptions& options = {});

// The first `limit` images under root (all when limit <= 0) as one Dataset (class_names
// filled); only those files are read. For a folder too large for memory, stream it
// (image_folder_stream.h).
Dataset load_image_folder(const std::string& root, const ImageFolderOptions& options = {}, std::int64_t limit = 0);

// One image file through the same pipeline: float32 [C, crop, crop] in [0, 1].
Tensor load_image(const std::string& path, const ImageFolderOptions& options = {});

// ---- the two steps of the pipeline, on float32 tensors [..., H, W] (CPU) -----------------

// Resizes the last two dims to out_h x out_w. Each output pixel is a weighted mean of input
// pixels with a triangle ("tent") weight: plain bilinear interpolation when enlarging; when
// shrinking, the triangle widens by the shrink factor so every input pixel contributes
// (antialiasing, the same idea as PIL's bilinear resize that torchvision uses).
Tensor resize_bilinear(const Tensor& images, std::int64_t out_h, std::int64_t out_w);

// The centre h x w window of the last two dims, placed as torchvision's center_crop places it:
// top = round((H - h) / 2) with halves rounded to even (Python's round), so an odd margin puts
// the extra row above the window when (H - h - 1) / 2 is odd (margin 3: top 2), below it
// otherwise (margin 5: top 2); the same for the columns.
Tensor center_crop(const Tensor& images, std::int64_t h, std::int64_t w);

}  // namespace oa::data
