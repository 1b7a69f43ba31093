#pragma once
// Reading and writing NumPy .npy files (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
//
// Supported: format versions 1.0, 2.0 and 3.0; C order; any rank including 0-d; dtypes
//   '<f4' -> float32, '<f8' -> float64, '<i8' -> int64, and '<i4' read as int64 (widened).
// Anything else (big-endian, uint8, complex, Fortran order, object arrays) is refused with
// an oa::Error naming the file and the reason, as is every malformed or truncated file.
#include <string>

#include "framework/core/tensor.h"

namespace oa::io {

// Returns a new CPU tensor with the file's shape and values.
Tensor read_npy(const std::string& path);

// Writes `t` (copied to the CPU if needed) as a version 1.0 file, byte for byte what
// np.save writes, with write_file_atomic (atomic_file.h): a crash never leaves a
// half-written file under `path`.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace oa::io
