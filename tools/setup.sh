# Shared by run.sh and test.sh (sourced, not run): install what is missing, then build.
# Debian 12 packages only; as root they are installed with apt-get, otherwise the exact
# apt-get line is printed and the script stops.

# oa_install_packages PKG...: installs the packages that are not installed yet.
oa_install_packages() {
  local missing=()
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#} Debian packages present"
    return 0
  fi
  local cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && $cmd" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  $cmd
}

# The packages the library, the executables and the default data set need.
OA_BUILD_PACKAGES=(g++ make cmake libopenblas-dev libdnnl-dev libfmt-dev doctest-dev libstb-dev libcli11-dev
                   nlohmann-json3-dev zlib1g-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin)
# For the tests only: the PyTorch oracle of the parity tests and the benchmark (never linked
# into the library), and headless Chromium, which renders the study's report (tests/study).
OA_ORACLE_PACKAGES=(python3 python3-numpy python3-torch python3-torchvision chromium)
# For tools/fuzz.sh only: clang with libFuzzer and the sanitizer runtimes, and clang's OpenMP.
OA_FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev libomp-14-dev)

# oa_build [TARGET...]: configure (Release) and build the targets (default: everything) into build/.
oa_build() {
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  if [ $# -eq 0 ]; then
    cmake --build build -j "$(nproc)"
  else
    cmake --build build -j "$(nproc)" --target "$@"
  fi
}
