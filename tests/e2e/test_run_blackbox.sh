#!/usr/bin/env bash
# End-to-end: run_blackbox with every attack on the shipped Fashion-MNIST model and 4 test
# samples with small budgets: the per-sample records keep their promises (budget, radius,
# NaN on failure), --bisect, --resume after a kill, --indices (also run_cw's), and the errors.
# Usage: test_run_blackbox.sh RUN_BLACKBOX RUN_CW PYTHON WORKDIR SOURCE_DIR
set -uo pipefail
run_blackbox=$1 run_cw=$2 python=$3 work=$4 source_dir=$5
source "$(dirname "$0")/common.sh"
model=$source_dir/models/weights/resnet20-fashion-mnist/checkpoint.safetensors
if [ ! -d /usr/share/datasets/fashion-mnist ]; then echo "skipped: no Fashion-MNIST"; exit 77; fi
common=(--model "$model" --n 4 --batch-size 2 --threads 2)

# 1. Every attack at a Linf and an L2 radius, 20 queries a sample.
"$run_blackbox" "${common[@]}" --attack square-linf,square-l2,rays-linf,noise-linf,noise-l2 --eps 0.1,1.5 \
  --queries 20 --out "$work/all" >"$work/all.log" 2>&1
check "run_blackbox exits 0" test $? -eq 0
# The promises of samples.csv, for every attack and radius: written by check_rows below.
cat >"$work/check_rows.py" <<'PY'
import csv, json, math, sys
root, attacks, radii, budget = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","), int(sys.argv[4])
bisect = int(sys.argv[5]) if len(sys.argv) > 5 else 0
ok = True
for attack in attacks:
    for eps in radii:
        d = f"{root}/{attack}/eps-{eps}"
        rows = list(csv.DictReader(open(f"{d}/samples.csv")))
        s = json.load(open(f"{d}/summary.json"))
        wins = 0
        for r in rows:
            q, dist = int(r["queries"]), [float(r[k]) for k in ("l2", "linf", "l0")]
            norm = float(r["linf"] if attack.endswith("linf") else r["l2"])
            bound = float(r["eps"]) if bisect else float(eps)
            if r["attacked"] == "0":
                good = q == 0 and all(math.isnan(v) for v in dist) and r["success"] == "0"
            elif r["success"] == "1":
                wins += 1
                good = 0 < q <= budget * (bisect + 1) and all(math.isfinite(v) for v in dist)
                good = good and (bound == 0 or norm <= bound + 1e-6) and (not bisect or bound <= float(eps))
            else:
                good = 0 < q <= budget * (bisect + 1) and all(math.isnan(v) for v in dist)
            if not good:
                print("bad row", d, r)
                ok = False
        attacked = sum(r["attacked"] == "1" for r in rows)
        if len(rows) != 4 or s["attacked"] != attacked or s["successes"] != wins:
            print("bad summary", d, len(rows), s["attacked"], attacked, s["successes"], wins)
            ok = False
        lo, hi = s["success_rate_ci95"]
        ok = ok and lo <= s["success_rate"] <= hi
        print(attack, eps, "success", s["success_rate"], "median queries", s["queries"]["median"])
sys.exit(0 if ok else 1)
PY
check "queries within the budget, successes inside the ball with finite distances, failures NaN" \
  "$python" "$work/check_rows.py" "$work/all" square-linf,square-l2,rays-linf,noise-linf,noise-l2 0.1,1.5 20
check "Square Linf at 0.1 finds some adversarial examples" "$python" -c "
import json, sys; sys.exit(0 if json.load(open('$work/all/square-linf/eps-0.1/summary.json'))['successes'] > 0 else 1)"

# 2. RayS at eps 0: the minimal Linf estimate, the whole budget spent; --bisect for square.
"$run_blackbox" "${common[@]}" --attack rays-linf --eps 0 --queries 30 --out "$work/rays" >"$work/rays.log" 2>&1
check "rays-linf at eps 0 (its minimal Linf): queries within the budget, successes with finite distances" \
  "$python" "$work/check_rows.py" "$work/rays" rays-linf 0 30
"$run_blackbox" "${common[@]}" --attack square-linf,noise-l2 --eps 0.2,3 --bisect 2 --queries 10 \
  --out "$work/bisect" >"$work/bisect.log" 2>&1
check "--bisect: queries of all steps within (K + 1) Q, the example inside its found radius <= eps" \
  "$python" "$work/check_rows.py" "$work/bisect" square-linf,noise-l2 0.2,3 10 2

# 3. --resume after a kill: a run cut after its first batch (what an atomic write leaves), resumed.
cp -r "$work/all" "$work/cut"
for f in "$work"/cut/*/*/samples.csv; do head -n 3 "$f" >"$f.head" && mv "$f.head" "$f"; done
"$run_blackbox" "${common[@]}" --attack square-linf,square-l2,rays-linf,noise-linf,noise-l2 --eps 0.1,1.5 \
  --queries 20 --out "$work/cut" --resume >"$work/resume.log" 2>&1
check "resume reports the samples already done" grep -q "resume: 2 samples already done" "$work/resume.log"
check "the resumed rows equal the uninterrupted run's" diff -r -x summary.json "$work/all" "$work/cut"
"$run_blackbox" "${common[@]}" --attack square-linf --eps 0.1 --queries 21 --out "$work/all" --resume \
  >"$work/refuse.log" 2>&1
check "resume with another --queries is refused" grep -q "resume with the same flags" "$work/refuse.log"
"$run_blackbox" "${common[@]}" --attack square-linf --eps 0.1 --queries 20 --out "$work/all" >"$work/refuse2.log" 2>&1
check "an existing run is not overwritten without --resume" grep -q "pass --resume" "$work/refuse2.log"

# 4. --indices: a text file and a .npy select the samples; bad files are refused by name and value.
printf '5\n2\n\n7\n' >"$work/idx.txt"
"$python" -c "import numpy as np; np.save('$work/idx.npy', np.array([7, 5, 2], dtype=np.int64))"
"$run_blackbox" --model "$model" --attack noise-linf --eps 0.1 --queries 5 --indices "$work/idx.txt" \
  --out "$work/idx_txt" >"$work/idx.log" 2>&1
"$run_blackbox" --model "$model" --attack noise-linf --eps 0.1 --queries 5 --indices "$work/idx.npy" \
  --out "$work/idx_npy" >>"$work/idx.log" 2>&1
"$run_cw" --model "$model" --attack ddn --ddn-steps 5 --indices "$work/idx.npy" --out "$work/idx_cw" \
  >>"$work/idx.log" 2>&1
check "--indices (text, .npy; run_blackbox and run_cw) attacks exactly the listed samples" "$python" - "$work" <<'PY'
import csv, sys
w = sys.argv[1]
got = [[r["index"] for r in csv.DictReader(open(f"{w}/{d}/samples.csv"))]
       for d in ("idx_txt/noise-linf/eps-0.1", "idx_npy/noise-linf/eps-0.1", "idx_cw/ddn")]
print(got)
sys.exit(0 if all(g == ["2", "5", "7"] for g in got) else 1)
PY
expect_error() {  # expect_error CODE PATTERN ARGS...: exits CODE and says PATTERN in one line
  local code=$1 pattern=$2; shift 2
  "$@" >"$work/err.out" 2>"$work/err.log"
  local rc=$?
  [ "$rc" -eq "$code" ] && grep -q -- "$pattern" "$work/err.log" && { [ "$code" -ne 1 ] || [ "$(wc -l <"$work/err.log")" -eq 1 ]; }
}
printf '3\n10000\n' >"$work/far.txt"
printf '3\n4\n3\n' >"$work/twice.txt"
printf '3\nfour\n' >"$work/word.txt"
bb=("$run_blackbox" --model "$model" --attack noise-linf --eps 0.1 --queries 5)
check "an index outside the split is refused, naming the file and the value" \
  expect_error 1 "far.txt: index 10000 is outside" "${bb[@]}" --indices "$work/far.txt"
check "a repeated index is refused" expect_error 1 "twice.txt: index 3 is listed twice" "${bb[@]}" --indices "$work/twice.txt"
check "a line that is not an integer is refused" expect_error 1 "word.txt: line 2 is 'four'" "${bb[@]}" --indices "$work/word.txt"
check "run_cw refuses the same file" expect_error 1 "far.txt: index 10000" "$run_cw" --model "$model" --attack ddn \
  --indices "$work/far.txt"
check "a missing indices file is refused" expect_error 1 "cannot open" "${bb[@]}" --indices "$work/none.txt"

# 5. Bad flags: usage errors exit 2, bad values exit 1 with one line.
check "an unknown attack" expect_error 1 "unknown attack 'square'" "${bb[@]}" --attack square
check "eps 0 for a fixed-radius attack" expect_error 1 "needs eps > 0" "${bb[@]}" --eps 0
check "a negative eps" expect_error 1 "is not a radius" "${bb[@]}" --eps -0.1
check "--n and --indices together" expect_error 2 "excludes" "${bb[@]}" --n 3 --indices "$work/idx.txt"
check "--queries 0" expect_error 2 "queries" "${bb[@]}" --queries 0
check "no --model" expect_error 2 "model" "$run_blackbox" --attack noise-linf
check "no temporary file left behind" test -z "$(find "$work" -name '*.tmp*')"

echo "$failures failure(s)"
exit $((failures > 0))
