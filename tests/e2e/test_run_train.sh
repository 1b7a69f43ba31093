#!/usr/bin/env bash
# End-to-end: run_train on tiny data written here, then its errors on bad input.
# Usage: test_run_train.sh RUN_TRAIN PYTHON WORKDIR
set -uo pipefail
run_train=$1 python=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work"
failures=0
check() {  # check DESCRIPTION COMMAND...: counts a failure when the command fails
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}

"$python" "$here/make_tiny_idx.py" "$work/data" || exit 1

# 1. A short run learns the tiny task and writes a summary that says so.
"$run_train" --data-dir "$work/data" --epochs 3 --batch-size 20 --lr 0.05 --out "$work/out" >"$work/train.log" 2>&1
check "run_train exits 0" test $? -eq 0
check "summary.json written" test -f "$work/out/summary.json"
check "test accuracy above 80% on the separable tiny set" "$python" - "$work/out/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("test accuracy", s["test_accuracy"])
sys.exit(0 if s["test_accuracy"] > 0.8 and len(s["history"]) == 3 else 1)
PY
check "no temporary file left behind" test -z "$(find "$work/out" -name '*.tmp*')"

# 2. Bad input: a clear error naming the problem, a non-zero exit, nothing written.
expect_error() {  # expect_error DESCRIPTION PATTERN ARGS...
  local what=$1 pattern=$2; shift 2
  local log="$work/error.log"
  "$run_train" "$@" >"$log" 2>&1
  local code=$?
  if [ $code -ne 0 ] && grep -q -- "$pattern" "$log"; then
    echo "ok   $what"
  else
    echo "FAIL $what (exit $code, expected message matching '$pattern'):"; cat "$log"
    failures=$((failures + 1))
  fi
}
expect_error "missing data directory" "not found" --data-dir "$work/nowhere"
cp -r "$work/data" "$work/bad_magic"
printf 'garbage-not-idx' | gzip >"$work/bad_magic/train-images-idx3-ubyte.gz"
expect_error "corrupt IDX magic names the file" "bad_magic/train-images-idx3-ubyte.gz: not an IDX file" --data-dir "$work/bad_magic"
cp -r "$work/data" "$work/short"
gzip -dc "$work/data/train-images-idx3-ubyte.gz" | head -c 5000 | gzip >"$work/short/train-images-idx3-ubyte.gz"
expect_error "truncated IDX file" "file ends early" --data-dir "$work/short"
cp -r "$work/data" "$work/count"
cp "$work/data/t10k-labels-idx1-ubyte.gz" "$work/count/train-labels-idx1-ubyte.gz"
expect_error "image/label count mismatch" "200 images but" --data-dir "$work/count"
expect_error "unknown model" "--model" --data-dir "$work/data" --model resnet9000
expect_error "zero epochs" "--epochs" --data-dir "$work/data" --epochs 0

echo "$failures failed"
exit $((failures > 0))
