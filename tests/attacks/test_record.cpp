// Records declared once and written to CSV and JSON by one function (experiments/common/record.h),
// on the per-sample results of the attacks (attacks::SampleResult), and options that declare their
// command-line flags with their fields (experiments/common/cli.h).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "attacks/adversarial.h"
#include "experiments/common/cli.h"
#include "experiments/common/record.h"
#include "tests/common/temp_dir.h"

using oa::attacks::SampleResult;
using namespace oa::experiments;

namespace {

// A per-sample row as run_cw writes it: the sample, then the attack's result.
struct Row {
  std::int64_t index = 0;
  bool attacked = false;
  std::string name = "";
  SampleResult r;
  template <class Self, class Visit>
  static void fields(Self& row, Visit&& visit) {
    visit("index", row.index);
    visit("attacked", row.attacked);
    visit("name", row.name);
    SampleResult::fields(row.r, visit);
  }
};

// The same row with one field more, as a later version adds it.
struct RowWithSet {
  Row row;
  std::string set = "outlier";
  template <class Self, class Visit>
  static void fields(Self& r, Visit&& visit) {
    Row::fields(r.row, visit);
    visit("set", r.set);
  }
};

std::vector<Row> example_rows() {
  Row broken{7, true, "ddn", {}};
  broken.r = {true, 0.125, 1.0 / 3.0, 17, 1e-3, 201, 200};
  Row failed{8, true, "cw-l2", {}};  // failed: NaN distances
  failed.r.forwards = 5;
  failed.r.backwards = 4;
  return {broken, failed, Row{9, false, "", {}}};  // not attacked
}

// NaN == NaN here: a field read back is the same value.
bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

bool same(const Row& a, const Row& b) {
  return a.index == b.index && a.attacked == b.attacked && a.name == b.name && a.r.success == b.r.success &&
         same(a.r.l2, b.r.l2) && same(a.r.linf, b.r.linf) && same(a.r.l0, b.r.l0) && same(a.r.c, b.r.c) &&
         a.r.forwards == b.r.forwards && a.r.backwards == b.r.backwards;
}

std::string to_csv(const std::vector<Row>& rows) {
  std::string csv = csv_header<Row>();
  for (const auto& row : rows) csv += csv_line(row);
  return csv;
}

// The message of the exception that `body` throws ("" if none).
template <class Body>
std::string error_of(Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// The message of the exception that reading `csv` as Rows throws ("" if none).
std::string read_error(const std::string& csv) {
  oa::test::TempDir dir;
  const std::string path = dir.file("samples.csv");
  oa::test::write_file(path, csv);
  return error_of([&] { read_csv<Row>(path); });
}

}  // namespace

TEST_CASE("record: the CSV columns are the fields in their declared order") {
  CHECK(csv_header<Row>() == "index,attacked,name,success,l2,linf,l0,c,forwards,backwards\n");
  const auto rows = example_rows();
  CHECK(csv_line(rows[0]) == "7,1,ddn,1,0.125,0.3333333333333333,17,0.001,201,200\n");
  CHECK(csv_line(rows[1]) == "8,1,cw-l2,0,nan,nan,nan,nan,5,4\n");  // never 0 for what was not measured
  CHECK(csv_line(rows[2]) == "9,0,,0,nan,nan,nan,nan,0,0\n");
}

TEST_CASE("record: CSV written and read back gives the same records, NaN included") {
  oa::test::TempDir dir;
  const std::string path = dir.file("samples.csv");
  const auto rows = example_rows();
  oa::test::write_file(path, to_csv(rows));
  const auto back = read_csv<Row>(path);
  REQUIRE(back.size() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) CHECK(same(back[i], rows[i]));
  CHECK(std::isnan(back[1].r.l2));
  CHECK(to_csv(back) == to_csv(rows));  // and byte-identical when written again
}

TEST_CASE("record: a corrupt field is an error naming the file, the line and the column") {
  const std::string header = csv_header<Row>();
  const std::string good = "7,1,ddn,1,0.125,0.25,17,nan,201,200\n";
  CHECK(read_error(header + good).empty());
  const std::string bad_l2 = read_error(header + good + "8,1,ddn,1,0.1x,0.25,17,nan,201,200\n");
  CHECK(bad_l2.find("samples.csv: line 3, column 'l2': '0.1x' is not a number") != std::string::npos);
  const std::string bad_flag = read_error(header + "8,yes,ddn,1,0.1,0.25,17,nan,201,200\n");
  CHECK(bad_flag.find("line 2, column 'attacked': 'yes' is not 0 or 1") != std::string::npos);
  const std::string bad_count = read_error(header + "8,1,ddn,1,0.1,0.25,17,nan,201,\n");
  CHECK(bad_count.find("line 2, column 'backwards': '' is not an integer") != std::string::npos);
  const std::string short_row = read_error(header + "8,1,ddn,1,0.1\n");
  CHECK(short_row.find("line 2 has 5 fields, the header has 10 columns") != std::string::npos);
}

TEST_CASE("record: a file with another header is refused") {
  const std::string error = read_error("index,attacked,name,success,l2,linf,l0,forwards,backwards\n");
  CHECK(error.find("samples.csv: the header is 'index,attacked,name,success,l2,linf,l0,forwards,backwards', "
                   "expected 'index,attacked,name,success,l2,linf,l0,c,forwards,backwards'") != std::string::npos);
  CHECK(read_error("").find("empty file") != std::string::npos);
}

TEST_CASE("record: a field added to a record is one more column and shifts no other") {
  CHECK(csv_header<RowWithSet>() == "index,attacked,name,success,l2,linf,l0,c,forwards,backwards,set\n");
  const auto rows = example_rows();
  for (const auto& row : rows) {
    const std::string before = csv_line(row), after = csv_line(RowWithSet{row});
    CHECK(after == before.substr(0, before.size() - 1) + ",outlier\n");
  }
  // A file of the old layout is refused, not read into the wrong fields.
  oa::test::TempDir dir;
  const std::string path = dir.file("old.csv");
  oa::test::write_file(path, to_csv(rows));
  CHECK(error_of([&] { read_csv<RowWithSet>(path); }).find("the header is") != std::string::npos);
}

TEST_CASE("record: JSON has one member per field; NaN is written as null") {
  const auto rows = example_rows();
  const auto json = to_json(rows[0]);
  CHECK(json.size() == 10);
  CHECK(json["index"] == 7);
  CHECK(json["attacked"] == true);
  CHECK(json["name"] == "ddn");
  CHECK(json["linf"].get<double>() == 1.0 / 3.0);
  CHECK(json["backwards"] == 200);
  CHECK(to_json(rows[1]).dump().find("\"l2\":null") != std::string::npos);  // written as null
}

TEST_CASE("record: a text field with a comma cannot be written") {
  Row row;
  row.name = "a,b";
  CHECK(error_of([&] { csv_line(row); }).find("may not hold a comma") != std::string::npos);
}

namespace {

// Options of two attacks that share the flag --steps, as run_cw's CW attacks share --iterations.
struct FirstOptions {
  std::int64_t steps = 10;
  double rate = 0.5;
  bool restarts = true;  // recorded, not a flag
  template <class Self, class Visit>
  static void fields(Self& o, Visit&& visit) {
    visit("steps", o.steps, Flag{"--steps", "steps of both", Positive});
    visit("rate", o.rate, Flag{"--rate", "first: the rate", std::nullopt, false});
    visit("restarts", o.restarts);
  }
};
struct SecondOptions {
  std::int64_t steps = 20;
  template <class Self, class Visit>
  static void fields(Self& o, Visit&& visit) {
    visit("steps", o.steps, Flag{"--steps", "steps of both", Positive});
  }
};

}  // namespace

TEST_CASE("record: options declare their flags once; a shared flag sets every option that names it") {
  FirstOptions first;
  SecondOptions second;
  CLI::App app;
  add_flags(app, first);
  add_flags(app, second);  // --steps is there already: bound to first's field only
  const std::string help = app.help();
  CHECK(help.find("--steps INT:POSITIVE=10") != std::string::npos);  // first's default shown
  CHECK(help.find("--rate FLOAT ") != std::string::npos);              // show_default false
  CHECK(help.find("--restarts") == std::string::npos);      // no flag
  const char* argv[] = {"test", "--steps", "7"};
  app.parse(3, argv);
  take_given_flags(app, first);
  take_given_flags(app, second);
  CHECK(first.steps == 7);
  CHECK(second.steps == 7);
  CHECK(first.rate == 0.5);  // not given: kept
  CHECK(to_json(first).dump() == R"({"rate":0.5,"restarts":true,"steps":7})");
  const char* bad[] = {"test", "--steps", "0"};
  CHECK_THROWS_AS(app.parse(3, bad), CLI::ValidationError);  // the flag's check
}

TEST_CASE("cli: Positive and NonNegative refuse out-of-range values, NaN and non-numbers in one short message") {
  const auto message = [](const CLI::Validator& check, const char* command_line) -> std::string {
    CLI::App app;
    double value = 1.0;
    app.add_option("--value", value)->check(check);
    try {
      app.parse(command_line, false);
    } catch (const CLI::ValidationError& e) {
      return e.what();
    }
    return "";
  };
  CHECK(message(Positive, "--value 0") == "--value: Value 0 is not above 0");
  CHECK(message(Positive, "--value -2.5") == "--value: Value -2.5 is not above 0");
  CHECK(message(Positive, "--value nan") == "--value: Value nan is not above 0");
  CHECK(message(Positive, "--value 3e-300") == "");
  CHECK(message(NonNegative, "--value 0") == "");
  CHECK(message(NonNegative, "--value -1") == "--value: Value -1 is not 0 or above");
  CHECK(message(NonNegative, "--value -inf") == "--value: Value -inf is not 0 or above");
}
