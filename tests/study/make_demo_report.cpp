// Writes the synthetic study (tests/study/synthetic_results.h) as DIR/results.json, with the
// verdicts under "hypotheses" as run_study stores them, and its report (DIR/report.html and
// DIR/report.md). Used by render_report.sh; usage: make_demo_report DIR
#include <cstdio>
#include <exception>
#include <filesystem>

#include "experiments/study/report.h"
#include "framework/io/atomic_file.h"
#include "tests/study/synthetic_results.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    nlohmann::json results = oa::test::synthetic_results();
    results["hypotheses"] = oa::study::write_report(results, dir);
    oa::io::write_file_atomic((dir / "results.json").string(), results.dump(1) + "\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_demo_report: %s\n", e.what());
    return 1;
  }
  return 0;
}
