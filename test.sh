#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest: unit, gradcheck, parity,
# cuda, e2e). CUDA tests report "skipped" where there is no GPU, never "passed".
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup.sh
oa_install_packages "${OA_BUILD_PACKAGES[@]}" "${OA_ORACLE_PACKAGES[@]}"
oa_build
ctest --test-dir build --output-on-failure -j 2 "$@"
