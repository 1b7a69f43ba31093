#!/usr/bin/env bash
# End-to-end: run_train on tiny data written here, run_eval and run_cw on its model, then
# their errors on bad input.
# Usage: test_run_train.sh RUN_TRAIN PYTHON WORKDIR
set -uo pipefail
run_train=$1 python=$2 work=$3
source "$(dirname "$0")/common.sh"

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
# A kill between the two files of epoch 2: its optimiser state written, its checkpoint not.
cp "$work/resumed/optimizer-1.safetensors" "$work/resumed/optimizer-2.safetensors"
"$run_train" --data-dir "$work/data" --epochs 3 --batch-size 20 --lr 0.05 --out "$work/resumed" --resume >"$work/r2.log" 2>&1
check "resume reports the epoch it continues from" grep -q "resume: .* after epoch 1" "$work/r2.log"
check "resume keeps only the optimiser state of the last epoch" test "$(cd "$work/resumed" && ls optimizer-*)" = optimizer-3.safetensors
check "resumed run reproduces the uninterrupted history" "$python" - "$work/out/history.csv" "$work/resumed/history.csv" <<'PY'
import sys
a, b = (open(p).read().splitlines() for p in sys.argv[1:3])
strip = lambda rows: [",".join(r.split(",")[:6]) for r in rows]  # drop the timing columns
print("\n".join(strip(b)))
sys.exit(0 if strip(a) == strip(b) else 1)
PY
"$run_train" --data-dir "$work/data" --epochs 4 --batch-size 20 --out "$work/resumed" --resume >"$work/r3.log" 2>&1
check "resume with another --epochs is refused (the schedule spans the run)" grep -q "resume with the same values" "$work/r3.log"
cp "$work/out/checkpoint.safetensors" "$work/good.safetensors"
for bad in "--lr nan" "--lr -0.1" "--momentum inf" "--weight-decay nan"; do
  # shellcheck disable=SC2086  # $bad is a flag and its value
  "$run_train" --data-dir "$work/data" --epochs 3 --batch-size 20 --out "$work/out" --resume $bad >"$work/nan.log" 2>&1
  code=$?
  check "resume with $bad: exit 2, the flag named, the checkpoint untouched" \
    bash -c "[ $code -eq 2 ] && grep -q -- 'must be finite and >= 0' '$work/nan.log' && cmp -s '$work/good.safetensors' '$work/out/checkpoint.safetensors'"
done
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

# 4. run_cw on the trained model: several attacks, each in its own directory, best/ the
#    per-sample minimum over them; a resume after a kill; errors that name the flag.
run_cw=$(dirname "$run_train")/run_cw
cw_args=(--model "$work/out/checkpoint.safetensors" --data-dir "$work/data" --n 12 --batch-size 5
         --attack cw-l2,ddn,cw-linf,fmn-linf,pgd-bisect-linf --search-steps 3 --iterations 30 --c0 1 --max-steps 60
         --linf-lr 0.01 --ddn-steps 30 --fmn-steps 30 --bisect-steps 5 --pgd-iterations 10 --threads 1)
"$run_cw" "${cw_args[@]}" --out "$work/cw" >"$work/cw.log" 2>&1
check "run_cw exits 0" test $? -eq 0
check "run_cw: per attack one CSV row per sample and a summary; failures NaN, never 0" "$python" - "$work/cw" <<'PY'
import csv, json, math, sys
good = True
for attack in ["cw-l2", "ddn", "cw-linf", "fmn-linf", "pgd-bisect-linf"]:
    rows = list(csv.DictReader(open(f"{sys.argv[1]}/{attack}/samples.csv")))
    s = json.load(open(f"{sys.argv[1]}/{attack}/summary.json"))
    attacked = [r for r in rows if r["attacked"] == "1"]
    ok = [r for r in attacked if r["success"] == "1"]
    print(attack, len(rows), "rows", len(attacked), "attacked", len(ok), "broken; success rate", s["success_rate"])
    good = good and s["attack"] == attack and len(rows) == 12 and len(ok) >= 1 and s["attacked"] == len(attacked)
    good = good and abs(s["success_rate"] - len(ok) / max(1, len(attacked))) < 1e-12
    good = good and all(float(r["l2"]) > 0 and float(r["linf"]) > 0 for r in ok)
    good = good and all(math.isnan(float(r["l2"])) for r in rows if r not in ok)
sys.exit(0 if good else 1)
PY
check "run_cw: best/ holds each sample's smallest L2 and Linf over the attacks, and who found it" "$python" - "$work/cw" <<'PY'
import csv, json, math, sys
attacks = ["cw-l2", "ddn", "cw-linf", "fmn-linf", "pgd-bisect-linf"]
per = {a: {r["index"]: r for r in csv.DictReader(open(f"{sys.argv[1]}/{a}/samples.csv"))} for a in attacks}
best = list(csv.DictReader(open(f"{sys.argv[1]}/best/samples.csv")))
s = json.load(open(f"{sys.argv[1]}/best/summary.json"))
good = len(best) == 12 and s["attacks"] == attacks
for b in best:
    rows = [per[a][b["index"]] for a in attacks]
    ok = [(a, r) for a, r in zip(attacks, rows) if r["success"] == "1"]
    good = good and (b["success"] == "1") == bool(ok)
    good = good and int(b["forwards"]) == sum(int(r["forwards"]) for r in rows)
    for norm in ["l2", "linf"]:
        if not ok:
            good = good and math.isnan(float(b[norm])) and b[norm + "_attack"] == ""
            continue
        smallest = min(float(r[norm]) for a, r in ok)
        good = good and float(b[norm]) == smallest and float(per[b[norm + "_attack"]][b["index"]][norm]) == smallest
wins = sum(s["l2_found_by"].values())
print("best success rate", s["success_rate"], "median L2", s["l2"]["median"], "L2 found by", s["l2_found_by"])
good = good and wins == sum(b["success"] == "1" for b in best)
sys.exit(0 if good else 1)
PY

# A kill in the second batch: cw-l2 had finished it, the other attacks had not begun it, and
# the last one had written its first summary.json but not yet its samples.csv.
for attack in ddn cw-linf fmn-linf; do
  head -n 6 "$work/cw/$attack/samples.csv" >"$work/cw/$attack/cut.csv" && mv "$work/cw/$attack/cut.csv" "$work/cw/$attack/samples.csv"
done
rm "$work/cw/pgd-bisect-linf/samples.csv"
cp -r "$work/cw" "$work/cw_before"
"$run_cw" "${cw_args[@]}" --out "$work/cw" --resume >"$work/cw2.log" 2>&1
check "run_cw --resume says what each attack had done" grep -q "resume: 5 samples already done in .*ddn/samples.csv" "$work/cw2.log"
check "run_cw --resume keeps the finished rows and completes the others" "$python" - "$work/cw_before" "$work/cw" <<'PY'
import csv, os, sys
good = True
for attack in ["cw-l2", "ddn", "cw-linf", "fmn-linf", "pgd-bisect-linf", "best"]:
    before, after = (list(csv.DictReader(open(f))) if os.path.exists(f) else []
                     for f in (f"{d}/{attack}/samples.csv" for d in sys.argv[1:3]))
    print(attack, len(before), "->", len(after), "rows")
    good = good and len(after) == 12 and after[:len(before)] == before
sys.exit(0 if good else 1)
PY
"$run_cw" "${cw_args[@]}" --out "$work/cw" --resume --gamma 0.1 >"$work/cw3.log" 2>&1
check "run_cw --resume with other options is refused" grep -q "resume: .*ddn/summary.json was written with options" "$work/cw3.log"

"$run_cw" --model "$work/out/checkpoint.safetensors,$work/out/checkpoint.safetensors" --data-dir "$work/data" --n 6 \
  --attack ddn --ddn-steps 20 --targeted --target random --threads 1 --out "$work/cw_models" >"$work/cw_models.log" 2>&1
check "run_cw: several --model, one directory each; targeted runs record their targets" "$python" - "$work/cw_models" <<'PY'
import csv, json, sys
good = True
for name in ["out", "out-2"]:
    rows = list(csv.DictReader(open(f"{sys.argv[1]}/{name}/ddn/samples.csv")))
    s = json.load(open(f"{sys.argv[1]}/{name}/best/summary.json"))
    print(name, [(r["label"], r["target"]) for r in rows], s["targeted"], s["target"])
    good = good and len(rows) == 6 and s["targeted"] and s["target"] == "random"
    good = good and all(0 <= int(r["target"]) < 10 and r["target"] != r["label"] for r in rows)
sys.exit(0 if good else 1)
PY
"$run_cw" --model "$work/out/checkpoint.safetensors" --data-dir "$work/data" --attack cw-l2,fgsm >"$work/bad_attack.log" 2>&1
check "run_cw refuses an unknown attack, naming the flag and the value" grep -q -- "--attack: unknown attack 'fgsm'" "$work/bad_attack.log"

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
expect_error "unknown device" "--device must be cpu or cuda" --data-dir "$work/data" --device tpu
if ! nvidia-smi -L >/dev/null 2>&1; then  # no GPU here: --device cuda must say so and why
  expect_error "--device cuda without a GPU" "--device cuda: no GPU can be used here" --data-dir "$work/data" --device cuda
fi

echo "$failures failed"
exit $((failures > 0))
