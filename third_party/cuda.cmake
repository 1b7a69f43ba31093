# Included from the top-level CMakeLists: enable_language(CUDA) must run in the top directory.
# CUDA: built whenever nvcc is found (checked here without failing when it is not).
set(OA_CUDA_FOUND OFF)
if(OA_WITH_CUDA)
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    enable_language(CUDA)
    # CMake 3.25 has no flag for C++20 with nvcc 13; the .cu files need only C++17.
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    # cuDNN 9 ships with the toolkit here (/usr/local/cuda/{include,lib64}); CMake has no
    # module for it, so find the header and the library by name.
    find_path(OA_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} REQUIRED)
    find_library(OA_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} REQUIRED)
    add_library(oa_cudnn INTERFACE)
    target_include_directories(oa_cudnn INTERFACE ${OA_CUDNN_INCLUDE_DIR})
    target_link_libraries(oa_cudnn INTERFACE ${OA_CUDNN_LIBRARY})
    set(OA_CUDA_FOUND ON)
    message(STATUS "OutlierAttack: CUDA back end ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES})")
  else()
    message(STATUS "OutlierAttack: nvcc not found, CUDA back end OFF")
  endif()
endif()

