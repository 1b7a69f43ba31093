#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the end-to-end job.
# Until the study exists (see README), that is a small CNN trained on Fashion-MNIST for
# one epoch, printing train and test accuracy. Extra arguments go to run_train.
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup.sh
oa_install_packages "${OA_BUILD_PACKAGES[@]}"
oa_build
out="runs/small-cnn-$(date +%Y%m%d-%H%M%S)"  # a new folder per run: earlier results stay
./build/experiments/run_train --model small-cnn --data fashion-mnist --epochs 1 --out "$out" "$@"
