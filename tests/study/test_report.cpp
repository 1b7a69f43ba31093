// The report (experiments/study/report.h) on a synthetic full results.json and on minimal ones.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "experiments/study/report.h"
#include "tests/common/temp_dir.h"
#include "tests/study/synthetic_results.h"

using nlohmann::json;
using oa::study::write_report;

namespace {
int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string verdict_of(const json& hypotheses, const std::string& id) {
  for (const auto& h : hypotheses)
    if (h["id"] == id) return h["verdict"];
  return "missing";
}
}  // namespace

TEST_CASE("the full synthetic study: every section, the verdicts its effects imply") {
  oa::test::TempDir dir;
  const json results = oa::test::synthetic_results();
  const json hypotheses = write_report(results, dir.path / "report");
  REQUIRE(hypotheses.size() == 5);
  CHECK(verdict_of(hypotheses, "H1") == "supported");
  CHECK(verdict_of(hypotheses, "H2") == "supported");
  CHECK(verdict_of(hypotheses, "H3") == "supported");
  CHECK(verdict_of(hypotheses, "H4") == "supported");
  CHECK(verdict_of(hypotheses, "H5") == "supported");

  const std::string html = oa::test::read_file((dir.path / "report" / "report.html").string());
  const std::string md = oa::test::read_file((dir.path / "report" / "report.md").string());
  REQUIRE(!html.empty());
  REQUIRE(!md.empty());
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("</html>") != std::string::npos);
  // Self-contained: no script, nothing fetched.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));
  CHECK(html.find("https://") == std::string::npos);
  // Plots: per ladder accuracy + gap (2), distances (2 norms x mean/median = 4), robust accuracy (1);
  // one OutlierAttack pair (1).
  CHECK(count(html, "<svg") == 2 * (2 + 4 + 1) + 1);
  CHECK(count(html, "<svg") == count(html, "</svg>"));
  CHECK(html.find(">nan<") == std::string::npos);
  CHECK(html.find("\"nan") == std::string::npos);
  for (const char* id : {"H1", "H2", "H3", "H4", "H5"}) CHECK(html.find(std::string(">") + id + "<") != std::string::npos);
  CHECK(html.find("<td class=\"good\">supported</td>") != std::string::npos);
  // The failed sanity check, in red and named.
  CHECK(html.find("<td class=\"bad\">FAILED</td>") != std::string::npos);
  CHECK(html.find("1 of 4 sanity checks failed") != std::string::npos);
  // The memorisation control as its own rows; the OutlierAttack's tables and effect.
  CHECK(count(html, "<tr class=\"memo\">") >= 3);
  CHECK(html.find("Margin-adjusted effect (H4):") != std::string::npos);
  CHECK(html.find("square_success@100") != std::string::npos);
  CHECK(html.find("How to read this.") != std::string::npos);
  CHECK(html.find("Not run.") == std::string::npos);

  CHECK(md.rfind("# ", 0) == 0);
  CHECK(md.find("| H1 |") != std::string::npos);
  CHECK(md.find("**FAILED**") != std::string::npos);
  CHECK(md.find("plots in report.html") != std::string::npos);
  CHECK(md.find("<svg") == std::string::npos);
}

TEST_CASE("a minimal results.json (one ladder, nothing else) still gives both files") {
  oa::test::TempDir dir;
  json ladder = {{"name", "prune-global"}, {"kind", "prune"}, {"x_label", "sparsity"}, {"models", json::array()}};
  for (int k = 0; k < 3; ++k)
    ladder["models"].push_back({{"name", "rung-" + std::to_string(k)}, {"x", 0.5 * k}, {"capacity", 1000 >> k},
                                {"train_accuracy", 0.95}, {"test_accuracy", 0.9}});
  const json hypotheses = write_report({{"ladders", {ladder}}}, dir.path);
  REQUIRE(hypotheses.size() == 5);
  for (const auto& h : hypotheses) CHECK(h["verdict"] == "inconclusive");
  const std::string html = oa::test::read_file((dir.path / "report.html").string());
  CHECK(html.find("</html>") != std::string::npos);
  CHECK(html.find("Not run.") != std::string::npos);
  CHECK(count(html, "<svg") == 2);  // accuracy and gap
  CHECK(std::filesystem::exists(dir.path / "report.md"));

  // Nothing at all: a report that says so.
  oa::test::TempDir empty;
  CHECK(write_report(json::object(), empty.path).size() == 5);
  CHECK(std::filesystem::exists(empty.path / "report.html"));
  CHECK(std::filesystem::exists(empty.path / "report.md"));
}

TEST_CASE("missing optional parts: no depth ladder, no fine-tuning, no outliers, no memorisation") {
  oa::test::TempDir dir;
  oa::test::SyntheticOptions options;
  options.depth_ladder = options.after = options.outlier = options.memorisation = false;
  const json hypotheses = write_report(oa::test::synthetic_results(options), dir.path);
  CHECK(verdict_of(hypotheses, "H2") == "supported");
  CHECK(verdict_of(hypotheses, "H3") == "inconclusive");
  CHECK(verdict_of(hypotheses, "H4") == "inconclusive");
  CHECK(verdict_of(hypotheses, "H5") == "inconclusive");
  const std::string html = oa::test::read_file((dir.path / "report.html").string());
  CHECK(count(html, "Not run.") >= 4);
  CHECK(count(html, "<tr class=\"memo\">") == 0);
}
