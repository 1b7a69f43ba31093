#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace oa {

// float32 is the working type; float64 exists for gradient checks; int64 holds labels
// and indices (never differentiated).
enum class DType : std::uint8_t { Float32, Float64, Int64 };

constexpr std::size_t dtype_size(DType t) {
  return t == DType::Float32 ? 4 : 8;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "?";
}

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::Int64; }

enum class Device : std::uint8_t { CPU, CUDA };

constexpr std::string_view device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

}  // namespace oa
