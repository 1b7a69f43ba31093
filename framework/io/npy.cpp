// The .npy format, as read and written here:
//
//   bytes 0-5   magic string "\x93NUMPY"
//   bytes 6-7   format version: major, minor (1.0, 2.0 or 3.0)
//   next 2 or 4 header length HLEN, little-endian: uint16 in version 1.0, uint32 in 2.0/3.0
//   next HLEN   header: a Python dict literal, e.g.
//                 {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//               padded with spaces and ended by '\n' so that the data starts at a multiple
//               of 64 bytes (3.0 only differs from 2.0 by allowing UTF-8 in the header)
//   the rest    the elements in C (row-major) order, nothing after them.
#include "framework/io/npy.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "framework/io/atomic_file.h"

namespace oa::io {

namespace {

static_assert(std::endian::native == std::endian::little, "the .npy data is copied as is: little-endian hosts only");

constexpr std::string_view kMagic{"\x93NUMPY", 6};
constexpr std::size_t kAlignment = 64;

// The dtypes we accept. Writing uses the first entry of the tensor's dtype, so '<i4'
// (read and widened to int64) comes after '<i8'.
struct NpyType {
  std::string_view descr;
  DType dtype;
  std::size_t file_item_size;
};
constexpr NpyType kTypes[] = {
    {"<f4", DType::Float32, 4}, {"<f8", DType::Float64, 8}, {"<i8", DType::Int64, 8}, {"<i4", DType::Int64, 4}};

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A recursive-descent parser for the header dict: string keys; values that are strings,
// True/False or tuples of non-negative integers; Python's spacing and trailing commas.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  Header parse() {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<Shape> shape;
    expect('{');
    while (!consume('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr" && !descr) {
        descr = parse_string();
      } else if (key == "fortran_order" && !fortran_order) {
        fortran_order = parse_bool();
      } else if (key == "shape" && !shape) {
        shape = parse_shape();
      } else {
        fail(fmt::format("unexpected or repeated key '{}'", key));
      }
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail("unexpected characters after the dict");
    if (!descr || !fortran_order || !shape) fail("the dict needs the keys 'descr', 'fortran_order' and 'shape'");
    return {*descr, *fortran_order, *shape};
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("read_npy: {}: malformed header ({} at offset {}): {:.200}", path_, what, pos_, text_));
  }

  void skip_space() {
    while (pos_ < text_.size() && std::string_view(" \t\r\n").find(text_[pos_]) != std::string_view::npos) ++pos_;
  }

  // Skips spaces, then consumes `c` if it comes next.
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect(char c) {
    if (!consume(c)) fail(fmt::format("expected '{}'", c));
  }

  std::string parse_string() {
    skip_space();
    const char quote = pos_ < text_.size() ? text_[pos_] : '\0';
    if (quote != '\'' && quote != '"') fail("expected a string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    const std::string_view body = text_.substr(pos_ + 1, end - pos_ - 1);
    if (body.find('\\') != std::string_view::npos) fail("escape sequences are not supported");
    pos_ = end + 1;
    return std::string(body);
  }

  bool parse_bool() {
    skip_space();
    for (const bool value : {true, false}) {
      const std::string_view word = value ? "True" : "False";
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    fail("expected True or False");
  }

  std::int64_t parse_dim() {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') fail("expected a non-negative integer");
    std::int64_t value = 0;
    for (; pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; ++pos_) {
      const int digit = text_[pos_] - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fail("dimension too large");
      value = value * 10 + digit;
    }
    return value;
  }

  // "()", "(5,)", "(2, 3)", "(2, 3,)". As in Python, "(5)" is not a tuple.
  Shape parse_shape() {
    expect('(');
    Shape shape;
    bool trailing_comma = false;
    while (!consume(')')) {
      shape.push_back(parse_dim());
      trailing_comma = consume(',');
      if (!trailing_comma) {
        expect(')');
        break;
      }
    }
    if (shape.size() == 1 && !trailing_comma) fail("a one-dimensional shape is written (n,)");
    return shape;
  }

  std::string_view text_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

struct CloseFile {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, CloseFile>;

const NpyType& type_of_descr(const std::string& descr, const std::string& path) {
  const auto* type = std::ranges::find(kTypes, descr, &NpyType::descr);
  if (type != std::end(kTypes)) return *type;
  throw Error(fmt::format("read_npy: {}: unsupported dtype '{}' (supported: '<f4', '<f8', '<i8', '<i4')", path, descr));
}

// numel(shape) * item_size, or nullopt when it does not fit in 63 bits. A zero dimension counts
// as 1 in that check: (0, 2^62, 2^62) holds no bytes, but a tensor of that shape has strides
// (2^124, ...) that do not fit either.
std::optional<std::int64_t> byte_count(const Shape& shape, std::size_t item_size) {
  std::int64_t bytes = static_cast<std::int64_t>(item_size), extent = bytes;
  for (const std::int64_t d : shape) {
    const std::int64_t counted = std::max<std::int64_t>(d, 1);
    if (extent > std::numeric_limits<std::int64_t>::max() / counted) return std::nullopt;
    extent *= counted;
    bytes *= d;
  }
  return bytes;
}

// "()", "(5,)", "(2, 3)": Python's repr of the shape tuple.
std::string shape_tuple(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

}  // namespace

Tensor read_npy(const std::string& path) {
  const File file(std::fopen(path.c_str(), "rb"));
  OA_CHECK(file != nullptr, "read_npy: cannot open {}: {}", path, std::strerror(errno));
  std::error_code ec;
  const std::uintmax_t file_size = std::filesystem::file_size(path, ec);
  OA_CHECK(!ec, "read_npy: cannot get the size of {}: {}", path, ec.message());
  // Reads n bytes at the current position; the caller has checked that the file has them.
  const auto read = [&](void* out, std::size_t n, const char* what) {
    OA_CHECK(std::fread(out, 1, n, file.get()) == n, "read_npy: {}: read error in the {}", path, what);
  };

  // Magic, version and header length.
  unsigned char prefix[12];
  OA_CHECK(file_size >= 10, "read_npy: {}: only {} bytes, too short for a .npy file", path, file_size);
  read(prefix, 8, "magic string");
  OA_CHECK(std::string_view(reinterpret_cast<const char*>(prefix), kMagic.size()) == kMagic,
           "read_npy: {}: not a .npy file (bad magic string)", path);
  const int major = prefix[6], minor = prefix[7];
  OA_CHECK((major == 1 || major == 2 || major == 3) && minor == 0,
           "read_npy: {}: unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)", path, major, minor);
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  OA_CHECK(file_size >= 8 + length_bytes, "read_npy: {}: only {} bytes, too short for a .npy file", path, file_size);
  read(prefix + 8, length_bytes, "header length");
  std::uintmax_t header_length = 0;
  for (std::size_t i = 0; i < length_bytes; ++i) header_length |= std::uintmax_t{prefix[8 + i]} << (8 * i);
  const std::uintmax_t data_offset = 8 + length_bytes + header_length;
  OA_CHECK(data_offset <= file_size, "read_npy: {}: the header length {} runs past the end of the file ({} bytes)",
           path, header_length, file_size);

  // The header dict.
  std::string header_text(header_length, '\0');
  read(header_text.data(), header_text.size(), "header");
  const Header header = HeaderParser(header_text, path).parse();
  const NpyType& type = type_of_descr(header.descr, path);
  OA_CHECK(!header.fortran_order, "read_npy: {}: Fortran-order arrays are not supported (save a C-order array)",
           path);

  // The data: exactly numel * item_size bytes.
  const std::optional<std::int64_t> expected = byte_count(header.shape, type.file_item_size);
  OA_CHECK(expected.has_value(), "read_npy: {}: shape {} is too large", path, shape_str(header.shape));
  const std::uintmax_t actual = file_size - data_offset;
  OA_CHECK(actual == static_cast<std::uintmax_t>(*expected),
           "read_npy: {}: {} data: shape {} of '{}' needs {} bytes, the file has {}", path,
           actual < static_cast<std::uintmax_t>(*expected) ? "truncated" : "trailing bytes after the",
           shape_str(header.shape), header.descr, *expected, actual);

  Tensor out = Tensor::empty(header.shape, type.dtype);
  if (type.file_item_size == dtype_size(type.dtype)) {
    read(out.raw_data(), static_cast<std::size_t>(*expected), "data");
  } else {  // '<i4' widened to int64
    std::vector<std::int32_t> narrow(static_cast<std::size_t>(out.numel()));
    read(narrow.data(), static_cast<std::size_t>(*expected), "data");
    std::copy(narrow.begin(), narrow.end(), out.data<std::int64_t>());
  }
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  const Tensor host = t.to(Device::CPU);
  const auto* type = std::ranges::find(kTypes, host.dtype(), &NpyType::dtype);
  OA_CHECK(type != std::end(kTypes), "write_npy: {}: no .npy dtype for a {} tensor", path, dtype_name(host.dtype()));

  // Header: the dict, spaces and '\n', so that the 10-byte prefix plus the header is a
  // multiple of 64 bytes. Version 1.0 always: its 16-bit length field only overflows for
  // shapes with thousands of dimensions, which NumPy (at most 32 dimensions) cannot read.
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", type->descr,
                                   shape_tuple(host.shape()));
  header.append((kAlignment - (10 + header.size() + 1) % kAlignment) % kAlignment, ' ');
  header.push_back('\n');
  OA_CHECK(header.size() <= 0xFFFF, "write_npy: {}: {} dimensions are too many for a .npy header", path, host.dim());
  std::string contents(kMagic);
  contents += {'\x01', '\x00', static_cast<char>(header.size() & 0xFF), static_cast<char>(header.size() >> 8)};
  contents += header;
  contents.append(static_cast<const char*>(host.raw_data()), host.nbytes());
  write_file_atomic(path, contents);
}

}  // namespace oa::io
