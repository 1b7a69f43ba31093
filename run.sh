#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the study's quick preset on
# Fashion-MNIST (model A and its pruning ladder are the shipped checkpoints; the depth ladder
# and the memorisation control are trained small). It writes results/quick-<date>/ with
# report.html, report.md, results.json and every stage's files. Extra arguments go to
# run_study (./run.sh --preset full --out results/full; rerunning with the same --out resumes).
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup.sh
oa_install_packages "${OA_BUILD_PACKAGES[@]}"
oa_build run_study  # the study and the executables it runs (not the tests)
./build/experiments/run_study --preset quick "$@"
