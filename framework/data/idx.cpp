#include "framework/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>

namespace oa::data {

namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads up to n bytes (fewer only at the end of the file) and returns how many it read.
std::size_t read_some(gzFile f, void* dst, std::size_t n, const std::string& path, const char* what) {
  std::size_t got = 0;
  while (got < n) {
    const int chunk = gzread(f, static_cast<char*>(dst) + got, static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30)));
    if (chunk < 0) {
      int code = 0;
      throw Error(fmt::format("{}: cannot read {}: {}", path, what, gzerror(f, &code)));
    }
    if (chunk == 0) {
      // The end of the input. gzread ends a gzip stream cut short quietly, like a complete one;
      // only gzerror tells them apart.
      int code = 0;
      gzerror(f, &code);
      OA_CHECK(code != Z_BUF_ERROR, "{}: the gzip stream is cut short (truncated file) while reading {}", path, what);
      break;
    }
    got += static_cast<std::size_t>(chunk);
  }
  return got;
}

// Reads exactly n bytes or throws naming what was being read.
void read_exact(gzFile f, void* dst, std::size_t n, const std::string& path, const char* what) {
  const std::size_t got = read_some(f, dst, n, path, what);
  OA_CHECK(got == n, "{}: file ends early while reading {} (expected {} bytes, got {})", path, what, n, got);
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  OA_CHECK(std::filesystem::exists(path), "{}: no such file", path);
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  OA_CHECK(file != nullptr, "{}: cannot open", path);
  std::uint8_t magic[4];
  read_exact(file.get(), magic, 4, path, "the magic number");
  OA_CHECK(magic[0] == 0 && magic[1] == 0, "{}: not an IDX file (magic bytes {:02x} {:02x}, expected 00 00)", path,
           magic[0], magic[1]);
  OA_CHECK(magic[2] == 0x08, "{}: IDX element type 0x{:02x} is not supported (only 0x08, unsigned byte)", path,
           magic[2]);
  OA_CHECK(magic[3] >= 1 && magic[3] <= 4, "{}: IDX header claims {} dimensions (expected 1 to 4)", path, magic[3]);
  IdxArray out;
  constexpr std::size_t kMaxValues = std::size_t(1) << 34;
  std::size_t count = 1;
  for (int d = 0; d < magic[3]; ++d) {
    std::uint8_t be[4];
    read_exact(file.get(), be, 4, path, "the dimensions");
    const std::uint32_t size = (std::uint32_t(be[0]) << 24) | (std::uint32_t(be[1]) << 16) | (std::uint32_t(be[2]) << 8) | be[3];
    OA_CHECK(size > 0 && size < (1u << 28), "{}: dimension {} has implausible size {}", path, d, size);
    out.dims.push_back(size);
    // Checked before multiplying: four dimensions of 2^27 would wrap around 64 bits (to 0).
    OA_CHECK(count < kMaxValues / size, "{}: header announces dimensions [{}], {} values or more, too many", path,
             fmt::join(out.dims, ", "), kMaxValues);
    count *= size;
  }
  // The values arrive in chunks and the buffer grows with them, so that a header announcing
  // more than the file holds fails as "file ends early" having allocated no more than the
  // file's size plus one chunk (a gzip file's size says nothing of its contents' size).
  constexpr std::size_t kChunk = std::size_t(1) << 24;
  while (out.values.size() < count) {
    const std::size_t done = out.values.size(), chunk = std::min(kChunk, count - done);
    out.values.resize(done + chunk);
    const std::size_t got = read_some(file.get(), out.values.data() + done, chunk, path, "the data");
    OA_CHECK(got == chunk, "{}: file ends early: the header announces {} data bytes, the file holds {}", path, count,
             done + got);
  }
  std::uint8_t extra;
  OA_CHECK(read_some(file.get(), &extra, 1, path, "the end of the file") == 0,
           "{}: trailing data after the {} values the header announces", path, count);
  return out;
}

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, const std::string& name,
                      std::int64_t classes) {
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  OA_CHECK(images.dims.size() == 3, "{}: expected 3 dimensions (N, H, W), got {}", images_path, images.dims.size());
  OA_CHECK(labels.dims.size() == 1, "{}: expected 1 dimension (N), got {}", labels_path, labels.dims.size());
  OA_CHECK(images.dims[0] == labels.dims[0], "{} holds {} images but {} holds {} labels", images_path, images.dims[0],
           labels_path, labels.dims[0]);
  const std::int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  Dataset d{name, Tensor::empty({n, 1, h, w}), Tensor::empty({n}, DType::Int64), classes};
  float* px = d.images.data<float>();
  for (std::size_t i = 0; i < images.values.size(); ++i) px[i] = static_cast<float>(images.values[i]) / 255.0f;
  std::int64_t* py = d.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    OA_CHECK(labels.values[i] < classes, "{}: label {} of sample {} is not below the {} classes", labels_path,
             labels.values[i], i, classes);
    py[i] = labels.values[i];
  }
  return d;
}

Dataset load_fashion_mnist(const std::string& dir, const std::string& split) {
  OA_CHECK(split == "train" || split == "test", "fashion-mnist: split must be 'train' or 'test', got '{}'", split);
  OA_CHECK(std::filesystem::is_directory(dir),
           "fashion-mnist: directory {} not found (install it with: apt-get install dataset-fashion-mnist, or pass "
           "--data-dir)",
           dir);
  const std::string prefix = split == "train" ? "train" : "t10k";
  auto find = [&](const std::string& stem) {
    for (const char* suffix : {".gz", ""}) {
      const auto p = std::filesystem::path(dir) / (stem + suffix);
      if (std::filesystem::exists(p)) return p.string();
    }
    throw Error(fmt::format("fashion-mnist: neither {0}.gz nor {0} in {1}", stem, dir));
  };
  return load_idx_pair(find(prefix + "-images-idx3-ubyte"), find(prefix + "-labels-idx1-ubyte"),
                       "fashion-mnist/" + split);
}

}  // namespace oa::data
