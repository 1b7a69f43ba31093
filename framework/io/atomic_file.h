#pragma once
// Results are written atomically: to a temporary file beside the target, flushed to disk
// (fsync), then renamed over the target, and the directory synced. A run killed mid-write
// leaves the old file intact.
#include <string>
#include <string_view>

namespace oa::io {

void write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace oa::io
