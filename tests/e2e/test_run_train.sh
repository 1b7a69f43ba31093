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

# 2. Resume: 1 epoch, "killed", resumed for the other 2, equals the uninterrupted run.
"$run_train" --data-dir "$work/data" --epochs 3 --batch-size 20 --lr 0.05 --out "$work/resumed" --stop-after 1 >"$work/r1.log" 2>&1
check "interrupted run leaves a checkpoint after epoch 1" grep -q '"epoch": 1' "$work/resumed/summary.json"
"$run_train" --data-dir "$work/data" --epochs 3 --batch-size 20 --lr 0.05 --out "$work/resumed" --resume >"$work/r2.log" 2>&1
check "resume reports the epoch it continues from" grep -q "resume: .* after epoch 1" "$work/r2.log"
check "resumed run reproduces the uninterrupted history" "$python" - "$work/out/history.csv" "$work/resumed/history.csv" <<'PY'
import sys
a, b = (open(p).read().splitlines() for p in sys.argv[1:3])
strip = lambda rows: [",".join(r.split(",")[:6]) for r in rows]  # drop the timing columns
print("\n".join(strip(b)))
sys.exit(0 if strip(a) == strip(b) else 1)
PY
"$run_train" --data-dir "$work/data" --epochs 4 --batch-size 20 --out "$work/resumed" --resume >"$work/r3.log" 2>&1
check "resume with another --epochs is refused (the schedule spans the run)" grep -q "resume with the same values" "$work/r3.log"
expect_refusal_log="$work/refuse.log"
"$run_train" --data-dir "$work/data" --epochs 3 --out "$work/out" >"$expect_refusal_log" 2>&1
check "an existing checkpoint is not overwritten without --resume" grep -q "already holds a checkpoint" "$expect_refusal_log"

# 3. Parity labels (the memorisation control) and run_eval on the checkpoint.
"$run_train" --data-dir "$work/data" --epochs 1 --batch-size 20 --labels parity --out "$work/parity" >"$work/p.log" 2>&1
check "parity labels give a 2-class model" grep -q "2 classes (labels: parity)" "$work/p.log"
run_eval=$(dirname "$run_train")/run_eval
"$run_eval" --model "$work/out/checkpoint.safetensors" --data-dir "$work/data" --split test --out "$work/eval.json" \
  --dump-logits "$work/logits.npy" >"$work/eval.log" 2>&1
check "run_eval reproduces the test accuracy of the summary" "$python" - "$work/out/summary.json" "$work/eval.json" <<'PY'
import json, sys
train, ev = (json.load(open(p)) for p in sys.argv[1:3])
print(train["test_accuracy"], ev["accuracy"])
sys.exit(0 if abs(train["test_accuracy"] - ev["accuracy"]) < 1e-9 else 1)
PY
check "run_eval --input/--dump-logits round trip" "$python" - "$work" "$run_eval" <<'PY'
import subprocess, sys, numpy as np
work, run_eval = sys.argv[1:3]
logits = np.load(f"{work}/logits.npy")
x = np.random.default_rng(0).random((7, 1, 28, 28), dtype=np.float32)
np.save(f"{work}/x.npy", x)
subprocess.run([run_eval, "--model", f"{work}/out/checkpoint.safetensors", "--input", f"{work}/x.npy",
                "--dump-logits", f"{work}/x_logits.npy"], check=True, capture_output=True)
print(logits.shape, np.load(f"{work}/x_logits.npy").shape)
sys.exit(0 if logits.shape == (100, 10) and np.load(f"{work}/x_logits.npy").shape == (7, 10) else 1)
PY

# 4. run_cw on the trained model: per-sample CSV, summary, and a resume that redoes nothing.
run_cw=$(dirname "$run_train")/run_cw
"$run_cw" --model "$work/out/checkpoint.safetensors" --data-dir "$work/data" --n 12 --batch-size 5 \
  --search-steps 3 --iterations 50 --c0 1 --out "$work/cw" >"$work/cw.log" 2>&1
check "run_cw writes one CSV row per sample and a summary" "$python" - "$work/cw" <<'PY'
import csv, json, math, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/samples.csv")))
s = json.load(open(f"{sys.argv[1]}/summary.json"))
attacked = [r for r in rows if r["attacked"] == "1"]
ok = [r for r in attacked if r["success"] == "1"]
print(len(rows), "rows", len(attacked), "attacked", len(ok), "broken; success rate", s["success_rate"])
good = len(rows) == 12 and len(ok) >= 1 and s["attacked"] == len(attacked) and abs(s["success_rate"] - len(ok) / max(1, len(attacked))) < 1e-12
good = good and all(float(r["l2"]) > 0 for r in ok) and all(math.isnan(float(r["l2"])) for r in attacked if r not in ok)
sys.exit(0 if good else 1)
PY
cp "$work/cw/samples.csv" "$work/cw_before.csv"
"$run_cw" --model "$work/out/checkpoint.safetensors" --data-dir "$work/data" --n 12 --batch-size 5 \
  --search-steps 3 --iterations 50 --c0 1 --out "$work/cw" --resume >"$work/cw2.log" 2>&1
check "run_cw --resume keeps the finished samples" cmp -s "$work/cw/samples.csv" "$work/cw_before.csv"
check "run_cw --resume says what it skipped" grep -q "resume: 12 samples already done" "$work/cw2.log"

"$run_cw" --model "$work/out/checkpoint.safetensors" --data-dir "$work/data" --n 12 --attack pgd-bisect-linf \
  --bisect-steps 6 --pgd-iterations 10 --out "$work/pgd" >"$work/pgd.log" 2>&1
check "run_cw --attack pgd-bisect-linf: an Linf upper bound per sample" "$python" - "$work/pgd" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/samples.csv")))
s = json.load(open(f"{sys.argv[1]}/summary.json"))
ok = [r for r in rows if r["success"] == "1"]
print(s["attack"], len(ok), "broken, Linf median", s["linf"]["median"])
sys.exit(0 if s["attack"] == "pgd-bisect-linf" and ok and all(0 < float(r["linf"]) <= 1 for r in ok) else 1)
PY
"$run_cw" --model "$work/out/checkpoint.safetensors" --data-dir "$work/data" --attack fgsm >"$work/bad_attack.log" 2>&1
check "run_cw refuses an unknown attack" grep -q "attack must be cw-l2, pgd-bisect-linf or pgd-bisect-l2" "$work/bad_attack.log"

# 5. Bad input: a clear error naming the problem, a non-zero exit, nothing written.
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
