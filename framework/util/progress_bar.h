#pragma once
// A progress bar on stderr: done/total, rate, elapsed time, ETA and a free-text status
// (loss, accuracy). On a terminal it redraws one line; in a log file (CI) it prints a line
// every `log_interval` seconds and at the end, so logs stay short.
#include <chrono>
#include <cstdint>
#include <string>

namespace oa {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::int64_t total, std::string unit = "it", double log_interval_s = 10.0);
  // Sets the count done so far and the status text; redraws when due.
  void update(std::int64_t done, const std::string& status = "");
  // Draws the final state and ends the line.
  void finish(const std::string& status = "");
  double elapsed_seconds() const;

 private:
  void draw(bool final_line);

  std::string label_, unit_, status_;
  std::int64_t total_, done_ = 0;
  double log_interval_s_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:05:09" / "4:03" / "12s"
std::string format_duration(double seconds);

}  // namespace oa
