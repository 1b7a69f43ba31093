// The safetensors format (layout in safetensors.h). The rules a file must follow, from
// the specification (https://github.com/huggingface/safetensors, "Format"):
//   - N, the header size, is at most 100 MB (the reference implementation's limit);
//   - the header is a JSON object with unique keys; every key but "__metadata__" names a
//     tensor: {"dtype": string, "shape": [non-negative integers], "data_offsets": [begin, end]};
//   - "__metadata__", when present, maps strings to strings;
//   - end - begin is exactly numel * dtype size, and the tensors cover the data section
//     exactly: no holes (which would make polyglot files possible) and no overlaps.
#include "framework/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "framework/io/atomic_file.h"

namespace oa::io {

namespace {

static_assert(std::endian::native == std::endian::little, "the data is copied as is: little-endian hosts only");

using Json = nlohmann::ordered_json;  // keeps the header's key order

constexpr std::uint64_t kMaxHeaderSize = 100'000'000;

struct SafetensorsType {
  std::string_view name;
  DType dtype;
};
constexpr SafetensorsType kTypes[] = {{"F32", DType::Float32}, {"F64", DType::Float64}, {"I64", DType::Int64}};

// A tensor as the header describes it.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;  // byte offsets into the data section
};

// Parses and checks a header; every error names the file.
class HeaderReader {
 public:
  HeaderReader(const std::string& path, std::uint64_t data_size) : path_(path), data_size_(data_size) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("read_safetensors: {}: {}", path_, what));
  }

  // The header text as JSON, refusing duplicate keys at any depth (nlohmann would keep the
  // last one silently).
  Json parse(const std::string& text) const {
    std::vector<std::set<std::string>> keys_of_open_objects;
    const auto check_keys = [&](int, Json::parse_event_t event, Json& parsed) {
      if (event == Json::parse_event_t::object_start) keys_of_open_objects.emplace_back();
      if (event == Json::parse_event_t::object_end) keys_of_open_objects.pop_back();
      if (event == Json::parse_event_t::key && !keys_of_open_objects.back().insert(parsed.get<std::string>()).second)
        fail(fmt::format("duplicate key '{}' in the header", parsed.get<std::string>()));
      return true;
    };
    try {
      Json header = Json::parse(text, check_keys);
      if (!header.is_object()) fail(fmt::format("the header is not a JSON object but {}", header.type_name()));
      return header;
    } catch (const Json::exception& e) {  // a syntax error, or a number beyond double (out_of_range)
      fail(fmt::format("the header is not valid JSON: {}", e.what()));
    }
  }

  std::map<std::string, std::string> metadata(const Json& value) const {
    if (!value.is_object()) fail(fmt::format("\"__metadata__\" is not a JSON object but {}", value.type_name()));
    std::map<std::string, std::string> out;
    for (const auto& [key, v] : value.items()) {
      if (!v.is_string()) fail(fmt::format("\"__metadata__\" value of '{}' is not a string but {}", key, v.type_name()));
      out.emplace(key, v.get<std::string>());
    }
    return out;
  }

  Entry entry(const std::string& name, const Json& value) const {
    const auto fail_tensor = [&](const std::string& what) { fail(fmt::format("tensor '{}': {}", name, what)); };
    if (!value.is_object()) fail_tensor(fmt::format("the entry is not a JSON object but {}", value.type_name()));
    const auto field = [&](const char* key) -> const Json& {
      if (!value.contains(key)) fail_tensor(fmt::format("missing field \"{}\"", key));
      return value[key];
    };
    // A non-negative integer of `key`; nlohmann parses exactly those as number_unsigned.
    const auto unsigned_at = [&](const char* key, const Json& v) {
      if (!v.is_number_unsigned()) fail_tensor(fmt::format("\"{}\" holds {}, not a non-negative integer", key, v.dump()));
      return v.get<std::uint64_t>();
    };

    Entry e{name, DType::Float32, {}, 0, 0};
    const Json& dtype = field("dtype");
    if (!dtype.is_string()) fail_tensor(fmt::format("\"dtype\" is not a string but {}", dtype.type_name()));
    const auto* type = std::ranges::find(kTypes, dtype.get<std::string>(), &SafetensorsType::name);
    if (type == std::end(kTypes))
      fail_tensor(fmt::format("unsupported dtype {} (supported: F32, F64, I64)", dtype.dump()));
    e.dtype = type->dtype;

    const Json& shape = field("shape");
    if (!shape.is_array()) fail_tensor(fmt::format("\"shape\" is not an array but {}", shape.type_name()));
    // extent: the byte count with every zero dimension counted as 1. It must fit in 63 bits for
    // the tensor's strides to, even when a zero makes the tensor empty ([0, 2^62, 2^62]).
    std::uint64_t bytes = dtype_size(e.dtype), extent = bytes;
    for (const Json& d : shape) {
      const std::uint64_t dim = unsigned_at("shape", d), counted = std::max<std::uint64_t>(dim, 1);
      if (counted > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / extent)
        fail_tensor(fmt::format("shape {} is too large", shape.dump()));
      e.shape.push_back(static_cast<std::int64_t>(dim));
      extent *= counted;
      bytes *= dim;
    }

    const Json& offsets = field("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2)
      fail_tensor(fmt::format("\"data_offsets\" is {}, not an array [begin, end]", offsets.dump()));
    e.begin = unsigned_at("data_offsets", offsets[0]);
    e.end = unsigned_at("data_offsets", offsets[1]);
    if (e.end < e.begin) fail_tensor(fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
    if (e.end > data_size_)
      fail_tensor(fmt::format("data_offsets [{}, {}] run past the end of the data section ({} bytes)", e.begin, e.end,
                              data_size_));
    if (e.end - e.begin != bytes)
      fail_tensor(fmt::format("data_offsets [{}, {}] hold {} bytes, but shape {} of {} needs {}", e.begin, e.end,
                              e.end - e.begin, shape_str(e.shape), type->name, bytes));
    return e;
  }

  // Sorts the entries by position and checks that they tile the data section.
  void check_coverage(std::vector<Entry>& entries) const {
    std::ranges::stable_sort(entries, {}, [](const Entry& e) { return std::pair(e.begin, e.end); });
    std::uint64_t covered = 0;  // bytes [0, covered) belong to the tensors seen so far
    const Entry* previous = nullptr;
    for (const Entry& e : entries) {
      if (e.begin < covered)
        fail(fmt::format("tensor '{}' (bytes [{}, {})) overlaps tensor '{}' (bytes [{}, {}))", e.name, e.begin, e.end,
                         previous->name, previous->begin, previous->end));
      if (e.begin > covered) fail(fmt::format("bytes [{}, {}) of the data section belong to no tensor", covered, e.begin));
      covered = e.end;
      previous = &e;
    }
    if (covered != data_size_)
      fail(fmt::format("bytes [{}, {}) of the data section belong to no tensor", covered, data_size_));
  }

 private:
  const std::string& path_;
  std::uint64_t data_size_;
};

// A validated header.
struct Header {
  std::vector<Entry> entries;  // in file order
  std::map<std::string, std::string> metadata;
};

// Reads n bytes at the current position; the caller has checked that the file has them.
void read_bytes(std::ifstream& in, void* out, std::uint64_t n, const std::string& path, const std::string& what) {
  in.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
  OA_CHECK(in, "read_safetensors: {}: read error in the {}", path, what);
}

// Reads and validates the header of the file `in` has opened, leaving `in` at the data section.
Header read_header(std::ifstream& in, const std::string& path) {
  OA_CHECK(in, "read_safetensors: cannot open {}: {}", path, std::strerror(errno));
  std::error_code ec;
  const std::uint64_t file_size = std::filesystem::file_size(path, ec);
  OA_CHECK(!ec, "read_safetensors: cannot get the size of {}: {}", path, ec.message());

  // The header size N: 8 bytes, little-endian.
  OA_CHECK(file_size >= 8, "read_safetensors: {}: only {} bytes, too short for a safetensors file", path, file_size);
  unsigned char size_bytes[8];
  read_bytes(in, size_bytes, 8, path, "header size");
  std::uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= std::uint64_t{size_bytes[i]} << (8 * i);
  OA_CHECK(header_size <= kMaxHeaderSize, "read_safetensors: {}: header size {} is over the limit of {} bytes", path,
           header_size, kMaxHeaderSize);
  OA_CHECK(header_size <= file_size - 8, "read_safetensors: {}: header size {} runs past the end of the file ({} bytes)",
           path, header_size, file_size);

  std::string text(header_size, '\0');
  read_bytes(in, text.data(), header_size, path, "header");
  const HeaderReader reader(path, file_size - 8 - header_size);
  const Json json = reader.parse(text);
  Header header;
  for (const auto& [key, value] : json.items()) {
    if (key == "__metadata__") {
      header.metadata = reader.metadata(value);
    } else {
      header.entries.push_back(reader.entry(key, value));
    }
  }
  reader.check_coverage(header.entries);
  return header;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Header header = read_header(in, path);
  SafetensorsFile out{{}, std::move(header.metadata)};
  // The data, in file order: every byte was checked to belong to exactly one tensor.
  for (const Entry& e : header.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    read_bytes(in, t.raw_data(), t.nbytes(), path, fmt::format("data of tensor '{}'", e.name));
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return read_header(in, path).metadata;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;  // the tensors on the CPU
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    OA_CHECK(name != "__metadata__" && !header.contains(name),
             "write_safetensors: {}: the tensor name '{}' is reserved or repeated", path, name);
    host.push_back(t.to(Device::CPU));
    const std::uint64_t end = offset + host.back().nbytes();
    const auto* type = std::ranges::find(kTypes, t.dtype(), &SafetensorsType::dtype);
    header[name] = {{"dtype", type->name}, {"shape", t.shape()}, {"data_offsets", {offset, end}}};
    offset = end;
  }

  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // so the data starts at a multiple of 8 bytes
  std::string contents;
  contents.reserve(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) contents.push_back(static_cast<char>((text.size() >> (8 * i)) & 0xFF));
  contents += text;
  for (const Tensor& t : host) contents.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  write_file_atomic(path, contents);
}

}  // namespace oa::io
