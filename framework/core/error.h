#pragma once
// Errors are exceptions with context: which op, which shapes, which file.
// User input never reaches an assert; it reaches OA_CHECK and a readable message.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdexcept>
#include <string>

namespace oa {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace oa

// OA_CHECK(cond, "format {}", args...): throws oa::Error with the formatted message
// when cond is false.
#define OA_CHECK(cond, ...)                                 \
  do {                                                      \
    if (!(cond)) throw ::oa::Error(fmt::format(__VA_ARGS__)); \
  } while (0)
