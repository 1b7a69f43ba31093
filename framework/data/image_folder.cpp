#include "framework/data/image_folder.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string_view>

// stb_image's implementation is compiled here and only here. STB_IMAGE_STATIC keeps its
// functions private to this file (no clash with another copy of stb in a program), and
// the STBI_ONLY_* switches leave out the decoders of formats we do not read.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#include <stb/stb_image.h>

namespace oa::data {

namespace {

namespace fs = std::filesystem;

// torchvision's ImageFolder extensions (IMG_EXTENSIONS), in any case. stb_image decodes the
// first five; .tif, .tiff and .webp files are still listed, so that class and sample indices
// stay ImageFolder's, and reading one is refused with an error naming it.
constexpr std::array<std::string_view, 9> kImageExtensions{".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                                           ".pgm", ".tif", ".tiff", ".webp"};
constexpr std::array<std::string_view, 3> kUndecodableExtensions{".tif", ".tiff", ".webp"};

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool has_extension(const fs::path& path, std::span<const std::string_view> extensions) {
  return std::find(extensions.begin(), extensions.end(), lower_extension(path)) != extensions.end();
}

// The class directories of root, sorted by name (ImageFolder's find_classes).
std::vector<fs::path> class_directories(const fs::path& root) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) found.push_back(entry.path());
  std::sort(found.begin(), found.end());
  return found;
}

// The largest image file we read: 256 MiB (ImageNet's largest JPEG is about 15 MB).
constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{256} << 20;

// Debian 12's stb_image (2.27) trusts the code counts of a JPEG Huffman table: counts that sum
// to more than 256 make it write past the end of its arrays (fixed upstream in 2.28; found by
// tests/fuzz/fuzz_image). We refuse such a file before stb_image reads it. The walk follows
// stb_image's: marker segments from SOI on, each with a 2-byte big-endian length that counts
// itself; a DHT segment holds tables of 1 byte (class, id), 16 counts and then as many values
// as the counts sum to, read as long as the segment has bytes left; after SOS comes
// entropy-coded data, up to the first 0xFF that is followed by neither 0x00 (a stuffed byte)
// nor a restart marker (0xD0-0xD7).
void check_jpeg_huffman_tables(const std::vector<unsigned char>& bytes, const std::string& path) {
  // SOI: 0xFF, any number of 0xFF fill bytes, 0xD8.
  std::size_t pos = 0;
  while (pos < bytes.size() && bytes[pos] == 0xFF) ++pos;
  if (pos == 0 || pos >= bytes.size() || bytes[pos] != 0xD8) return;  // not a JPEG
  ++pos;
  const auto byte_at = [&](std::size_t i) -> std::size_t { return i < bytes.size() ? bytes[i] : 0; };  // 0 past the end, as stb
  while (pos + 1 < bytes.size()) {
    const std::size_t marker = bytes[pos + 1];
    if (bytes[pos] != 0xFF || marker == 0xFF) {  // not a marker (stb_image stops there) or a fill byte
      ++pos;
      continue;
    }
    if (marker == 0xD9) return;  // EOI
    const std::size_t end = pos + 2 + (byte_at(pos + 2) << 8 | byte_at(pos + 3));
    if (marker == 0xC4) {
      for (std::size_t table = pos + 4; table < end;) {
        std::size_t codes = 0;
        for (std::size_t i = 1; i <= 16; ++i) codes += byte_at(table + i);
        OA_CHECK(codes <= 256, "{}: corrupt JPEG: the Huffman table at byte {} declares {} codes (at most 256)", path,
                 table, codes);
        table += 17 + codes;
      }
    }
    pos = end;
    if (marker == 0xDA)  // the entropy-coded data of the scan
      while (pos + 1 < bytes.size() &&
             !(bytes[pos] == 0xFF && bytes[pos + 1] != 0x00 && (bytes[pos + 1] < 0xD0 || bytes[pos + 1] > 0xD7)))
        ++pos;
  }
}

// stb_image 2.27 also allocates a PNG data (IDAT) chunk's declared length, up to 2 GiB, before
// it finds that the file holds fewer bytes (found by tests/fuzz/fuzz_image). We refuse a chunk
// that runs past the end of the file first. A PNG is an 8-byte signature, then chunks of a
// 4-byte big-endian length, a 4-byte type, the data and a 4-byte CRC, up to the IEND chunk.
void check_png_chunks(const std::vector<unsigned char>& bytes, const std::string& path) {
  static constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() < 8 || !std::equal(kSignature, kSignature + 8, bytes.begin())) return;  // not a PNG
  for (std::size_t pos = 8; pos + 8 <= bytes.size();) {
    const std::size_t length = std::size_t{bytes[pos]} << 24 | std::size_t{bytes[pos + 1]} << 16 |
                               std::size_t{bytes[pos + 2]} << 8 | bytes[pos + 3];
    const std::string type(bytes.begin() + static_cast<std::ptrdiff_t>(pos + 4),
                           bytes.begin() + static_cast<std::ptrdiff_t>(pos + 8));
    OA_CHECK(pos + 12 + length <= bytes.size(),
             "{}: corrupt PNG: chunk '{}' at byte {} declares {} bytes, past the end of the file ({} bytes)", path,
             type, pos, length, bytes.size());
    if (type == "IEND") return;
    pos += 12 + length;
  }
}

// The bytes of an image file, refusing a file too large to be an image we would read.
std::vector<unsigned char> read_image_file(const std::string& path) {
  OA_CHECK(fs::is_regular_file(path), "{}: no such image file", path);
  const std::uintmax_t size = fs::file_size(path);
  OA_CHECK(size <= kMaxFileBytes, "{}: {} bytes, more than the {} MiB this loader reads", path, size,
           kMaxFileBytes >> 20);
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  OA_CHECK(in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)), "{}: read error", path);
  return bytes;
}

[[noreturn]] void throw_decode_error(const std::string& path) {
  const char* reason = stbi_failure_reason();  // per thread in this stb version
  throw Error(fmt::format("{}: cannot decode image: {}", path, reason ? reason : "unknown error"));
}

// The image files anywhere under a class directory, in ImageFolder's order: it walks the tree
// (following links) and sorts the walk by directory path, then each directory's files by name.
std::vector<fs::path> class_images(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> found;  // (directory, file name)
  for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink))
    if (entry.is_regular_file() && has_extension(entry.path(), kImageExtensions))
      found.emplace_back(entry.path().parent_path().string(), entry.path().filename().string());
  std::sort(found.begin(), found.end());
  std::vector<fs::path> images;
  for (const auto& [directory, name] : found) images.push_back(fs::path(directory) / name);
  return images;
}

// The pixels of an image file as float32 [channels, H, W] in [0, 1].
Tensor decode(const std::string& path, int channels) {
  OA_CHECK(!has_extension(path, kUndecodableExtensions),
           "{}: cannot decode image: stb_image reads JPEG, PNG, BMP and PPM/PGM, not {} (convert the file to PNG)",
           path, lower_extension(path));
  const std::vector<unsigned char> bytes = read_image_file(path);
  check_jpeg_huffman_tables(bytes, path);
  check_png_chunks(bytes, path);
  const int length = static_cast<int>(bytes.size());  // at most kMaxFileBytes
  int width = 0, height = 0, channels_in_file = 0;
  // The header first, so that an absurd size is refused before anything is allocated.
  if (!stbi_info_from_memory(bytes.data(), length, &width, &height, &channels_in_file)) throw_decode_error(path);
  OA_CHECK(std::int64_t{width} * height <= kMaxImagePixels,
           "{}: the image is {}x{} pixels, more than the {} pixels an image may have", path, width, height,
           kMaxImagePixels);
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes.data(), length, &width, &height, &channels_in_file, channels), stbi_image_free);
  if (!pixels) throw_decode_error(path);
  Tensor image = Tensor::empty({channels, height, width});
  float* out = image.data<float>();
  // stb_image returns interleaved pixels (H, W, C); our layout is one plane per channel (C, H, W).
  const std::int64_t plane = std::int64_t{height} * width;
  for (int c = 0; c < channels; ++c)
    for (std::int64_t i = 0; i < plane; ++i)
      out[c * plane + i] = static_cast<float>(pixels.get()[i * channels + c]) / 255.0f;
  return image;
}

// How one output position along an axis mixes the inputs: out = sum_k weights[k] * in[first + k].
struct Taps {
  std::int64_t first = 0;
  std::vector<float> weights;
};

// Triangle-filter taps for resizing an axis of `in` pixels to `out` pixels. Pixel i covers
// [i, i + 1) and has its centre at i + 0.5. Output pixel o has its centre at (o + 0.5) * scale
// in input coordinates; inputs within `support` of it get weight 1 - distance / support.
// Enlarging (scale < 1): support 1, i.e. bilinear interpolation between the two nearest
// pixels. Shrinking: support = scale, so the filter covers every input pixel under the output
// pixel. The weights are renormalised to sum to 1, which also handles the image borders.
std::vector<Taps> triangle_taps(std::int64_t in, std::int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double support = std::max(scale, 1.0);
  std::vector<Taps> taps(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) {
    const double centre = (static_cast<double>(o) + 0.5) * scale;
    const auto lo = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(centre - support)));
    const auto hi = std::min<std::int64_t>(in, static_cast<std::int64_t>(std::ceil(centre + support)));
    Taps& t = taps[static_cast<std::size_t>(o)];
    t.first = lo;
    double total = 0.0;
    for (std::int64_t i = lo; i < hi; ++i) {
      const double w = std::max(0.0, 1.0 - std::abs(static_cast<double>(i) + 0.5 - centre) / support);
      t.weights.push_back(static_cast<float>(w));
      total += w;
    }
    for (float& w : t.weights) w = static_cast<float>(w / total);
  }
  return taps;
}

// Height and width of the last two dims, after checking the tensor can be an image stack.
std::pair<std::int64_t, std::int64_t> image_size(const Tensor& images, const char* op) {
  OA_CHECK(images.dim() >= 2, "{}: needs [..., H, W], got {}", op, describe(images));
  OA_CHECK(images.device() == Device::CPU, "{}: needs a CPU tensor, got {}", op, describe(images));
  check_dtype(images, DType::Float32, op, "images");
  return {images.size(-2), images.size(-1)};
}

// The shape of `images` with the last two dims replaced by h, w.
Shape with_size(const Tensor& images, std::int64_t h, std::int64_t w) {
  Shape shape = images.shape();
  shape[shape.size() - 2] = h;
  shape[shape.size() - 1] = w;
  return shape;
}

}  // namespace

void ImageFolderOptions::check() const {
  OA_CHECK(crop >= 1 && crop <= resize, "image folder options: need 1 <= crop <= resize, got crop {} and resize {}",
           crop, resize);
}

Tensor resize_bilinear(const Tensor& images, std::int64_t out_h, std::int64_t out_w) {
  const auto [h, w] = image_size(images, "resize_bilinear");
  OA_CHECK(h > 0 && w > 0 && out_h > 0 && out_w > 0, "resize_bilinear: cannot resize {} to {}x{}", describe(images),
           out_h, out_w);
  const std::int64_t planes = images.numel() / (h * w);
  const auto rows = triangle_taps(h, out_h);
  const auto cols = triangle_taps(w, out_w);
  // Separable: first along each row (h x w -> h x out_w), then along each column.
  std::vector<float> wide(static_cast<std::size_t>(h * out_w));
  Tensor out = Tensor::empty(with_size(images, out_h, out_w));
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* src = images.data<float>() + p * h * w;
    float* dst = out.data<float>() + p * out_h * out_w;
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < out_w; ++x) {
        const Taps& t = cols[static_cast<std::size_t>(x)];
        float sum = 0.0f;
        for (std::size_t k = 0; k < t.weights.size(); ++k) sum += t.weights[k] * src[y * w + t.first + std::int64_t(k)];
        wide[static_cast<std::size_t>(y * out_w + x)] = sum;
      }
    for (std::int64_t y = 0; y < out_h; ++y) {
      const Taps& t = rows[static_cast<std::size_t>(y)];
      for (std::int64_t x = 0; x < out_w; ++x) {
        float sum = 0.0f;
        for (std::size_t k = 0; k < t.weights.size(); ++k)
          sum += t.weights[k] * wide[static_cast<std::size_t>((t.first + std::int64_t(k)) * out_w + x)];
        dst[y * out_w + x] = sum;
      }
    }
  }
  return out;
}

Tensor center_crop(const Tensor& images, std::int64_t crop_h, std::int64_t crop_w) {
  const auto [h, w] = image_size(images, "center_crop");
  OA_CHECK(crop_h > 0 && crop_w > 0 && crop_h <= h && crop_w <= w, "center_crop: cannot crop {}x{} out of {}", crop_h,
           crop_w, describe(images));
  const std::int64_t planes = images.numel() / (h * w);
  // torchvision: int(round((H - h) / 2.0)); Python rounds halves to even, as nearbyint does.
  const auto top = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(h - crop_h) / 2.0));
  const auto left = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(w - crop_w) / 2.0));
  Tensor out = Tensor::empty(with_size(images, crop_h, crop_w));
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t y = 0; y < crop_h; ++y) {
      const float* src = images.data<float>() + (p * h + top + y) * w + left;
      std::copy(src, src + crop_w, out.data<float>() + (p * crop_h + y) * crop_w);
    }
  return out;
}

Tensor load_image(const std::string& path, const ImageFolderOptions& options) {
  options.check();
  const Tensor image = decode(path, options.grayscale ? 1 : 3);
  // Shorter side -> resize; the longer side keeps the aspect ratio, rounded down like torchvision.
  const std::int64_t h = image.size(1), w = image.size(2), shorter = std::min(h, w);
  // A very long, thin image would grow beyond any memory (1 x 10^6 pixels resized to 256 x 2.56e8).
  const double scale = static_cast<double>(options.resize) / static_cast<double>(shorter);
  OA_CHECK(static_cast<double>(h) * scale * static_cast<double>(w) * scale <= static_cast<double>(kMaxImagePixels),
           "{}: the image is {}x{} pixels; resized so that its shorter side is {} it would have more than {} pixels",
           path, w, h, options.resize, kMaxImagePixels);
  const std::int64_t out_h = h == shorter ? options.resize : h * options.resize / shorter;
  const std::int64_t out_w = w == shorter ? options.resize : w * options.resize / shorter;
  return center_crop(resize_bilinear(image, out_h, out_w), options.crop, options.crop);
}

ImageFolderIndex index_image_folder(const std::string& root, std::int64_t limit) {
  OA_CHECK(fs::is_directory(root), "image folder {}: not a directory", root);
  const auto class_dirs = class_directories(root);
  OA_CHECK(!class_dirs.empty(), "image folder {}: no class directories (expected root/<class>/<image>)", root);
  ImageFolderIndex index;
  for (std::size_t c = 0; c < class_dirs.size(); ++c) {
    const auto images = class_images(class_dirs[c]);
    OA_CHECK(!images.empty(), "image folder {}: class directory {} holds no image files ({})", root,
             class_dirs[c].string(), fmt::join(kImageExtensions, ", "));
    index.class_names.push_back(class_dirs[c].filename().string());
    for (const auto& image : images) {
      index.files.push_back(image.string());
      index.labels.push_back(static_cast<std::int64_t>(c));
    }
  }
  if (limit > 0 && limit < static_cast<std::int64_t>(index.files.size())) {
    index.files.resize(static_cast<std::size_t>(limit));
    index.labels.resize(static_cast<std::size_t>(limit));
  }
  return index;
}

Tensor load_images(const std::vector<std::string>& files, const ImageFolderOptions& options) {
  options.check();
  const auto n = static_cast<std::int64_t>(files.size());
  const std::int64_t channels = options.grayscale ? 1 : 3;
  Tensor images = Tensor::empty({n, channels, options.crop, options.crop});
  // Decode in parallel. An exception must not leave an OpenMP loop, so each file keeps its
  // own, and the first one (in file order) is rethrown afterwards.
  std::vector<std::exception_ptr> errors(files.size());
  const std::int64_t image_floats = channels * options.crop * options.crop;
#pragma omp parallel for schedule(dynamic)
  for (std::int64_t i = 0; i < n; ++i) {
    try {
      const Tensor image = load_image(files[static_cast<std::size_t>(i)], options);
      std::copy_n(image.data<float>(), image_floats, images.data<float>() + i * image_floats);
    } catch (...) {
      errors[static_cast<std::size_t>(i)] = std::current_exception();
    }
  }
  for (const auto& error : errors)
    if (error) std::rethrow_exception(error);
  return images;
}

Dataset load_image_folder(const std::string& root, const ImageFolderOptions& options, std::int64_t limit) {
  options.check();
  ImageFolderIndex index = index_image_folder(root, limit);
  const auto n = static_cast<std::int64_t>(index.files.size());
  return {root, load_images(index.files, options), Tensor::from_vector(index.labels, {n}),
          static_cast<std::int64_t>(index.class_names.size()), std::move(index.class_names)};
}

}  // namespace oa::data
