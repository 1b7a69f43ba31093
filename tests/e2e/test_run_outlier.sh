#!/usr/bin/env bash
# End-to-end: run_outlier on tiny models trained here (A learns the tiny task, B barely
# trains): the selection agrees with the models' own logits (run_eval), the
# measures keep their promises, the statistics are there, --select-only, --resume after a
# kill, the attacker's own pair (--select-a/--select-b), and the errors.
# Usage: test_run_outlier.sh RUN_TRAIN RUN_EVAL RUN_OUTLIER PYTHON WORKDIR
set -uo pipefail
run_train=$1 run_eval=$2 run_outlier=$3 python=$4 work=$5
source "$(dirname "$0")/common.sh"
train() {  # train NAME EPOCHS LR SEED
  "$run_train" --model small-cnn --data-dir "$work/data" --epochs "$2" --batch-size 20 --lr "$3" --seed "$4" \
    --out "$work/$1" \
    >"$work/$1.log" 2>&1 || { cat "$work/$1.log"; exit 1; }
}
train a 4 0.05 0
train b 2 0.002 1  # on this tiny task B learns some classes whole, others in part (where M can exist)
train a2 3 0.05 2  # the attacker's own A'
a=$work/a/checkpoint.safetensors b=$work/b/checkpoint.safetensors
for m in a b; do
  for split in train test; do
    "$run_eval" --model "$work/$m/checkpoint.safetensors" --data-dir "$work/data" --split $split \
      --dump-logits "$work/$m-$split.npy" >/dev/null 2>&1 || exit 1
  done
done
measures=(--eps 0.05,0.2 --budgets 5,20 --rays-queries 20 --ddn-steps 10 --fmn-steps 10 --batch-size 4 --threads 2)

# 1. The whole selection, then the measures on at most 6 samples a set.
"$run_outlier" --a "$a" --b "$b" --data-dir "$work/data" --out "$work/o" --max-per-set 6 "${measures[@]}" \
  >"$work/o.log" 2>&1
check "run_outlier exits 0" test $? -eq 0
check "sets.csv: S, R, M and the held-out sets follow from A's and B's logits" "$python" - "$work" <<'PY'
import csv, gzip, sys
import numpy as np
w = sys.argv[1]
def labels(prefix):
    with gzip.open(f"{w}/data/{prefix}-labels-idx1-ubyte.gz") as f:
        return np.frombuffer(f.read()[8:], dtype=np.uint8).astype(np.int64)
rows = list(csv.DictReader(open(f"{w}/o/sets.csv")))
ok = True
for split, prefix, suffix in (("train", "train", ""), ("test", "t10k", "_test")):
    y = labels(prefix)
    za, zb = np.load(f"{w}/a-{split}.npy"), np.load(f"{w}/b-{split}.npy")
    a_right, b_right = za.argmax(1) == y, zb.argmax(1) == y
    other = za.copy(); other[np.arange(len(y)), y] = -np.inf
    margin = za[np.arange(len(y)), y] - other.max(1)
    sets = {s: [r for r in rows if r["split"] == split and r["set"] == s + suffix] for s in "SRM"}
    s_idx = sorted(int(r["index"]) for r in sets["S"])
    expected = sorted(np.flatnonzero(a_right & ~b_right).tolist())
    if s_idx != expected: print(split, "S", s_idx, "expected", expected); ok = False
    controls = set(np.flatnonzero(a_right & b_right).tolist())
    for r in sets["R"] + sets["M"]:
        if int(r["index"]) not in controls: print(split, "control not A and B right", r); ok = False
    for r in sets["S"] + sets["R"] + sets["M"]:
        if abs(float(r["a_margin"]) - margin[int(r["index"])]) > 1e-4: print("margin", r, margin[int(r["index"])]); ok = False
    by_index = {int(r["index"]): r for r in sets["S"]}
    for m in sets["M"]:
        s = by_index[int(m["partner"])]
        if s["label"] != m["label"] or int(s["partner"]) != int(m["index"]): print("pair", s, m); ok = False
    # An outlier stays unmatched only when its class has no candidate left.
    for c in range(10):
        outliers = [r for r in sets["S"] if int(r["label"]) == c]
        candidates = [i for i in controls if y[i] == c]
        matched = [r for r in outliers if int(r["partner"]) >= 0]
        if len(matched) != min(len(outliers), len(candidates)): print("class", c, "matched", len(matched)); ok = False
    print(split, "|S|", len(s_idx), "|R|", len(sets["R"]), "|M|", len(sets["M"]))
    if not s_idx: ok = False
sys.exit(0 if ok else 1)
PY
check "samples.csv: one row per measured sample and measure, budgets kept, distances inside the ball" \
  "$python" - "$work/o" <<'PY'
import csv, json, math, sys
from collections import Counter
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/samples.csv")))
s = json.load(open(f"{d}/summary.json"))
per_sample = Counter((r["split"], r["index"]) for r in rows)
ok = set(per_sample.values()) == {5}  # square at 2 radii, rays, ddn, fmn
if not ok: print("measures per sample", Counter(per_sample.values()))
for r in rows:
    win, q = r["success"] == "1", int(r["queries"])
    if r["attacked"] == "0":
        ok = ok and not win and math.isnan(float(r["linf"]))
    elif r["attack"] == "square-linf":
        ok = ok and 0 < q <= 20 and (not win or float(r["linf"]) <= float(r["eps"]) + 1e-6)
    elif r["attack"] == "rays-linf":
        ok = ok and 0 < q <= 20
    if win != math.isfinite(float(r["l2"])): ok = False
    if not ok: print("bad row", r); break
capped = Counter(r["set"] for r in csv.DictReader(open(f"{d}/sets.csv")))
for name, n in s["selection"]["measured_per_set"].items():  # M follows the S rows kept
    good = (n <= min(6, capped[name]) if name.startswith("M") else n == min(6, capped[name])) and s["sets"][name]["n"] == n
    if not good: print("set", name, n, capped[name], s["sets"][name]["n"]); ok = False
ok = ok and s["complete"] and len(s["comparisons"]) > 0 and all(0 <= t["p_holm"] <= 1 for t in s["comparisons"])
ok = ok and all(t["p_holm"] >= t["p_value"] - 1e-12 for t in s["comparisons"])
ok = ok and {f["pool"] for f in s["margin_adjusted"]} == {"train", "test"}
print(len(rows), "rows;", len(s["comparisons"]), "comparisons")
sys.exit(0 if ok else 1)
PY
check "the comparison table is printed" grep -q "S vs R" "$work/o.log"

# 2. --select-only, then the measures by --resume; a run cut after its first batch resumes to
#    the same rows.
"$run_outlier" --a "$a" --b "$b" --data-dir "$work/data" --out "$work/sel" --select-only >"$work/sel.log" 2>&1
check "--select-only writes the same sets.csv and no measure" \
  bash -c "cmp '$work/o/sets.csv' '$work/sel/sets.csv' && test \$(wc -l <'$work/sel/samples.csv') -eq 1"
cp -r "$work/o" "$work/cut"
head -n 21 "$work/o/samples.csv" >"$work/cut/samples.csv"  # the first batch of 4 samples, 5 rows each
"$run_outlier" --a "$a" --b "$b" --data-dir "$work/data" --out "$work/cut" --max-per-set 6 "${measures[@]}" --resume \
  >"$work/resume.log" 2>&1
check "resume reports the samples already measured" grep -q "resume: 4 samples already measured" "$work/resume.log"
check "the resumed rows equal the uninterrupted run's" cmp "$work/o/samples.csv" "$work/cut/samples.csv"
"$run_outlier" --a "$a" --b "$b" --data-dir "$work/data" --out "$work/o" --max-per-set 5 "${measures[@]}" --resume \
  >"$work/refuse.log" 2>&1
check "resume with other measures is refused" grep -q "was measured with" "$work/refuse.log"
"$run_outlier" --a "$a" --b "$b" --data-dir "$work/data" --out "$work/o" >"$work/refuse2.log" 2>&1
check "an existing run is not overwritten without --resume" grep -q "pass --resume" "$work/refuse2.log"

# 3. The attacker's own pair selects; A is only attacked.
"$run_outlier" --a "$a" --b "$b" --select-a "$work/a2/checkpoint.safetensors" --select-b "$b" \
  --data-dir "$work/data" --out "$work/attacker" --max-per-set 3 "${measures[@]}" >"$work/attacker.log" 2>&1
check "--select-a/--select-b run" grep -q "selection by the attacker's A' and B'" "$work/attacker.log"

# 4. Errors: one clear line, exit 1 or 2.
"$run_outlier" --a "$a" --b "$b" --select-a "$a" --data-dir "$work/data" --out "$work/e1" >"$work/e1.log" 2>&1
check "--select-a without --select-b is refused" grep -q "go together" "$work/e1.log"
"$run_outlier" --a "$a" --b "$work/missing.safetensors" --data-dir "$work/data" --out "$work/e2" >"$work/e2.log" 2>&1
check "a missing B is named" grep -q "missing.safetensors" "$work/e2.log"
"$run_outlier" --a "$a" --b "$b" --eps 0.1,-1 --data-dir "$work/data" --out "$work/e3" >"$work/e3.log" 2>&1
check "a negative radius is refused" grep -q "is not a radius" "$work/e3.log"
echo "$failures failure(s)"
exit $((failures > 0))
