# Included from the top-level CMakeLists, so the imported targets are visible everywhere.
# Glue that finds the Debian packages the project uses (see DESIGN.md, "Dependencies").
# No third-party sources live here: each target below is an imported system package.

find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(ZLIB REQUIRED)
find_package(doctest REQUIRED)

# OpenBLAS: the CPU GEMM. We need the CBLAS header and openblas_set_num_threads,
# so we look for OpenBLAS itself rather than any BLAS.
find_path(OPENBLAS_INCLUDE_DIR cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas /usr/include
  REQUIRED)
find_library(OPENBLAS_LIBRARY NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/x86_64-linux-gnu
  REQUIRED)
add_library(oa_openblas INTERFACE)
target_include_directories(oa_openblas SYSTEM INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(oa_openblas INTERFACE ${OPENBLAS_LIBRARY})

# oneDNN (libdnnl-dev): the float32 CPU convolutions (framework/backend/cpu/conv2d_onednn.cpp).
# Found by hand: the package's CMake config also demands the OpenCL headers, which we never use.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp PATHS /usr/include REQUIRED)
find_library(DNNL_LIBRARY NAMES dnnl PATHS /usr/lib/x86_64-linux-gnu REQUIRED)
add_library(oa_dnnl INTERFACE)
target_include_directories(oa_dnnl SYSTEM INTERFACE ${DNNL_INCLUDE_DIR})
target_link_libraries(oa_dnnl INTERFACE ${DNNL_LIBRARY})

# stb_image (header-only, libstb-dev) for JPEG/PNG decoding.
find_path(STB_INCLUDE_DIR stb/stb_image.h PATHS /usr/include)
add_library(oa_stb INTERFACE)
if(STB_INCLUDE_DIR)
  target_include_directories(oa_stb SYSTEM INTERFACE ${STB_INCLUDE_DIR})
endif()

# The Python interpreter that has Debian's torch (the PyTorch oracle of the parity tests
# and the benchmark). /usr/bin/python3 first: a pyenv shim earlier on PATH has no torch.
find_program(OA_TORCH_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT OA_TORCH_PYTHON)
  find_program(OA_TORCH_PYTHON NAMES python3 REQUIRED)
endif()
