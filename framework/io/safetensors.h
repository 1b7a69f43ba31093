#pragma once
// Reading and writing safetensors files (https://huggingface.co/docs/safetensors), the
// format of the model checkpoints (checkpoint.h):
//
//   8 bytes   N, the header size: an unsigned little-endian 64-bit integer
//   N bytes   the header: a UTF-8 JSON object, possibly padded at the end with spaces
//               {"__metadata__": {"key": "string value", ...},
//                "conv1.weight": {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [0, 37632]},
//                ...}
//             data_offsets are [begin, end) byte offsets into the data section
//   the rest  the data section: each tensor's elements, row-major, little-endian. The
//             tensors cover it exactly, without holes or overlaps.
//
// Supported dtypes: F32, F64 and I64 (our float32, float64 and int64). Empty and 0-d
// tensors are allowed. Reading validates everything and refuses any malformed file (and
// any other dtype) with an oa::Error naming the file and the faulty tensor or field.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"

namespace oa::io {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in the order of their data in the file
  std::map<std::string, std::string> metadata;          // the "__metadata__" entry
};

// Reads a whole file into new CPU tensors.
SafetensorsFile read_safetensors(const std::string& path);

// Reads and validates the header alone: the metadata without loading the tensors.
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

// Writes `tensors` (copied to the CPU if needed) in the given order, the header padded to
// a multiple of 8 bytes, with write_file_atomic (atomic_file.h). Names must be unique and
// not "__metadata__".
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace oa::io
