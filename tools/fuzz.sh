#!/usr/bin/env bash
# Fuzzes the parsers: builds the libFuzzer targets of tests/fuzz with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer (cmake --preset fuzz, into build-fuzz/), then runs each for a fixed
# time, starting from its seed corpus (tests/fuzz/corpus/<target>/).
#
#   tools/fuzz.sh [SECONDS] [TARGET...]    SECONDS per target (default 60); TARGET: idx, npy, ...
#
# Limits of every run: 2 GiB of memory in all, no single allocation above 512 MiB, no input
# slower than 10 s. What a run finds (crash-*, leak-*, oom-*, timeout-*, slow-unit-*) lands in
# build-fuzz/fuzz-runs/<target>/findings/, the inputs it found interesting in .../corpus/, its
# log in .../log. The table at the end gives executions and findings per target; the exit
# status is 1 if anything was found. Reproduce a finding with
#   build-fuzz/tests/fuzz/fuzz_<target> FILE
# and, once fixed, copy FILE into tests/fuzz/corpus/<target>/ so that every test run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
oa_install_packages "${OA_BUILD_PACKAGES[@]}" "${OA_FUZZ_PACKAGES[@]}"

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in tests/fuzz/fuzz_*.cpp; do
    name=$(basename "$source" .cpp)
    targets+=("${name#fuzz_}")
  done
fi

cmake --preset fuzz
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

summary=()
found_any=0
for target in "${targets[@]}"; do
  run=build-fuzz/fuzz-runs/$target
  mkdir -p "$run/corpus" "$run/findings"
  cp -n tests/fuzz/corpus/"$target"/* "$run/corpus/"
  echo "fuzz: $target for $seconds s"
  # The scratch files the targets write go to memory (/dev/shm) rather than to the disk.
  TMPDIR=/dev/shm "build-fuzz/tests/fuzz/fuzz_$target" "$run/corpus" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$run/findings/" > "$run/log" 2>&1 || true
  executions=$(awk '/stat::number_of_executed_units/ {print $2}' "$run/log")
  findings=$(find "$run/findings" -type f | wc -l)
  [ "$findings" -eq 0 ] || found_any=1
  summary+=("$(printf '%-14s %6s s %12s executions %6s corpus files %4s findings' "$target" "$seconds" \
    "${executions:-?}" "$(find "$run/corpus" -type f | wc -l)" "$findings")")
  tail -n 3 "$run/log"
done

echo
printf '%s\n' "${summary[@]}"
exit $found_any
