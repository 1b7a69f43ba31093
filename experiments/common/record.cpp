#include "experiments/common/record.h"

#include <fmt/format.h>

#include <charconv>
#include <fstream>

#include "framework/core/error.h"

namespace oa::experiments {

std::string csv_field(bool value) { return value ? "1" : "0"; }
std::string csv_field(std::int64_t value) { return fmt::format("{}", value); }
std::string csv_field(std::uint64_t value) { return fmt::format("{}", value); }
std::string csv_field(double value) { return fmt::format("{}", value); }  // shortest round trip; "nan"

std::string csv_field(const std::string& value) {
  OA_CHECK(value.find_first_of(",\"\r\n") == std::string::npos,
           "CSV field '{}': a text field may not hold a comma, a quote or a line break", value);
  return value;
}

bool parse_csv_field(const std::string& text, bool& value) {
  if (text != "0" && text != "1") return false;
  value = text == "1";
  return true;
}

// std::from_chars reads a number and says where it stopped: the field must end there.
template <class Number>
bool parse_number(const std::string& text, Number& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return error == std::errc() && stop == end;
}

bool parse_csv_field(const std::string& text, std::int64_t& value) { return parse_number(text, value); }
bool parse_csv_field(const std::string& text, std::uint64_t& value) { return parse_number(text, value); }
bool parse_csv_field(const std::string& text, double& value) { return parse_number(text, value); }  // "nan" too

bool parse_csv_field(const std::string& text, std::string& value) {
  value = text;
  return true;
}

const char* csv_field_kind(const bool&) { return "0 or 1"; }
const char* csv_field_kind(const std::int64_t&) { return "an integer"; }
const char* csv_field_kind(const std::uint64_t&) { return "a non-negative integer"; }
const char* csv_field_kind(const double&) { return "a number"; }
const char* csv_field_kind(const std::string&) { return "a text"; }

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  for (const char c : line) {
    if (c == ',')
      fields.emplace_back();
    else
      fields.back() += c;
  }
  return fields;
}

std::vector<std::string> read_csv_lines(std::istream& in, const std::string& source, const std::string& header) {
  std::string line;
  const std::string expected = header.substr(0, header.size() - 1);
  OA_CHECK(std::getline(in, line), "{}: empty file, expected the header '{}'", source, expected);
  OA_CHECK(line == expected, "{}: the header is '{}', expected '{}' (a file of another program or version)", source,
           line, expected);
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

void throw_corrupt_field(const std::string& path, std::size_t line, const char* column, const std::string& text,
                         const char* kind) {
  throw Error(fmt::format("{}: line {}, column '{}': '{}' is not {}", path, line, column, text, kind));
}

void check_field_count(const std::string& path, std::size_t line, std::size_t fields, std::size_t columns) {
  OA_CHECK(fields == columns, "{}: line {} has {} fields, the header has {} columns", path, line, fields, columns);
}

}  // namespace oa::experiments
