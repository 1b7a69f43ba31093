#pragma once
// Records: structs whose fields are declared once, in order, and written to CSV and JSON (and
// read back from CSV) by the functions below, so that adding a field is one line that cannot
// shift the other columns.
//
// A record declares its fields with a static member function that calls visit(name, member)
// for each, in column order; Self is the record or const record, so one list serves the
// writers (const) and the reader:
//
//   struct Point {
//     std::int64_t index = 0;
//     double x = 0;
//     template <class Self, class Visit> static void fields(Self& p, Visit&& visit) {
//       visit("index", p.index);
//       visit("x", p.x);
//     }
//   };
//
// A record can take the fields of another (Row takes those of attacks::SampleResult by calling
// SampleResult::fields), and a visit may carry more after the member (the command-line flag
// of an option, cli.h): the functions here ignore it. Field types: bool (written 0 / 1),
// std::int64_t, std::uint64_t, double (shortest text that reads back the same value; NaN is
// "nan") and std::string (without commas, quotes or line breaks).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <istream>
#include <sstream>
#include <string>
#include <vector>

#include "framework/core/error.h"

namespace oa::experiments {

// One value as a CSV field.
std::string csv_field(bool value);
std::string csv_field(std::int64_t value);
std::string csv_field(std::uint64_t value);
std::string csv_field(double value);
std::string csv_field(const std::string& value);

// Reads one CSV field into value; false when `text` is not a value of its type (the whole text
// must be read: "12x" is not an integer).
bool parse_csv_field(const std::string& text, bool& value);
bool parse_csv_field(const std::string& text, std::int64_t& value);
bool parse_csv_field(const std::string& text, std::uint64_t& value);
bool parse_csv_field(const std::string& text, double& value);
bool parse_csv_field(const std::string& text, std::string& value);

// What a field of each type must look like, for the error message of a corrupt field.
const char* csv_field_kind(const bool&);
const char* csv_field_kind(const std::int64_t&);
const char* csv_field_kind(const std::uint64_t&);
const char* csv_field_kind(const double&);
const char* csv_field_kind(const std::string&);

// A CSV line (without its line break) cut at every comma; empty fields are kept.
std::vector<std::string> split_csv_line(const std::string& line);

// The header line of Record's CSV: its field names, comma-separated, and a line break.
template <class Record>
std::string csv_header() {
  std::string line;
  static const Record record{};  // only its field names are read
  Record::fields(record, [&](const char* name, const auto&, const auto&...) {
    line += line.empty() ? name : std::string(",") + name;
  });
  return line + "\n";
}

// One record as a CSV line, with its line break.
template <class Record>
std::string csv_line(const Record& record) {
  std::string line;
  bool first = true;
  Record::fields(record, [&](const char*, const auto& value, const auto&...) {
    line += (first ? "" : ",") + csv_field(value);
    first = false;
  });
  return line + "\n";
}

// A whole CSV file: the header and a line per record.
template <class Record>
std::string csv_text(const std::vector<Record>& records) {
  std::string text = csv_header<Record>();
  for (const Record& record : records) text += csv_line(record);
  return text;
}

// The records of a CSV file written by csv_header and csv_line. Throws, naming the file, the
// line and the column, on a header other than Record's, a line with another number of fields,
// or a field that is not a value of its column's type.
template <class Record>
std::vector<Record> read_csv(const std::string& path);
// The same from CSV text in memory (what another rank sent); `source` names it in errors.
template <class Record>
std::vector<Record> read_csv_text(const std::string& text, const std::string& source);

// One record as a JSON object {name: value} (NaN is dumped as null).
template <class Record>
nlohmann::json to_json(const Record& record) {
  nlohmann::json object = nlohmann::json::object();
  Record::fields(record, [&](const char* name, const auto& value, const auto&...) { object[name] = value; });
  return object;
}

// ---- the reader's parts that do not depend on the record ----------------------------------

// The lines of a CSV file after its header, which must be `header` (with its line break);
// `source` names the file (or the text) in errors.
std::vector<std::string> read_csv_lines(std::istream& in, const std::string& source, const std::string& header);

// Throws: the field of `column` on line `line` of `path` is `text`, not `kind`.
[[noreturn]] void throw_corrupt_field(const std::string& path, std::size_t line, const char* column,
                                      const std::string& text, const char* kind);

// Throws unless a line has as many fields as the header.
void check_field_count(const std::string& path, std::size_t line, std::size_t fields, std::size_t columns);

template <class Record>
std::vector<Record> read_csv_records(std::istream& in, const std::string& source) {
  const std::string header = csv_header<Record>();
  const std::size_t columns = split_csv_line(header.substr(0, header.size() - 1)).size();
  std::vector<Record> records;
  const auto lines = read_csv_lines(in, source, header);
  for (std::size_t k = 0; k < lines.size(); ++k) {
    const std::size_t line_number = k + 2;  // the header is line 1
    const auto fields = split_csv_line(lines[k]);
    check_field_count(source, line_number, fields.size(), columns);
    Record record;
    std::size_t column = 0;
    Record::fields(record, [&](const char* name, auto& value, const auto&...) {
      const std::string& text = fields[column++];
      if (!parse_csv_field(text, value)) throw_corrupt_field(source, line_number, name, text, csv_field_kind(value));
    });
    records.push_back(record);
  }
  return records;
}

template <class Record>
std::vector<Record> read_csv(const std::string& path) {
  std::ifstream in(path);
  OA_CHECK(in, "{}: cannot open the file", path);
  return read_csv_records<Record>(in, path);
}

template <class Record>
std::vector<Record> read_csv_text(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  return read_csv_records<Record>(in, source);
}

}  // namespace oa::experiments
