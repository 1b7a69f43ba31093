#!/usr/bin/env bash
# End-to-end: run_study's tiny preset on the tiny IDX data (A trained and pruned here, the
# memorisation control, attacks, equal adversarial fine-tuning, the OutlierAttack, the report),
# then the same study killed with SIGKILL at random points and resumed until it finishes: it
# must give the same results as the uninterrupted run and lose nothing; the cifar10 preset on
# tiny CIFAR-10 files; the errors.
# Usage: test_run_study.sh RUN_STUDY PYTHON WORKDIR
set -uo pipefail
run_study=$1 python=$2 work=$3
source "$(dirname "$0")/common.sh"
study=(--preset tiny --data-dir "$work/data" --threads 2)

"$run_study" "${study[@]}" --out "$work/whole" >"$work/whole.log" 2>&1
check "the uninterrupted study exits 0" test $? -eq 0
check "it wrote the report, the results and the resolved config" \
  test -s "$work/whole/report.html" -a -s "$work/whole/report.md" -a -s "$work/whole/results.json" \
  -a -s "$work/whole/config.json"
check "results.json: five verdicts with their statistics, the ladder, the control, the outlier pair, checks" \
  "$python" - "$work/whole/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
h = r["hypotheses"]
ok = [x["id"] for x in h] == ["H1", "H2", "H3", "H4", "H5"]
ok = ok and all(x["verdict"] in ("supported", "not supported", "inconclusive") and x["statistic"] for x in h)
models = r["ladders"][0]["models"]
ok = ok and [m["name"] for m in models] == ["dense", "rung-0.5", "rung-0.8", "rung-0.95"]
ok = ok and all("after" in m["attacks"] and m["adv_examples"] == 60 for m in models)
ok = ok and r["memorisation"]["name"] == "parity" and r["outlier"][0]["b"] == "rung-0.95"
ok = ok and len(r["checks"]) > 0 and r["run"]["preset"] == "tiny"
for x in h: print(x["id"], x["verdict"], x["statistic"])
sys.exit(0 if ok else 1)
PY

rm "$work/whole/report.html"
"$run_study" --report-only --out "$work/whole" >"$work/report-only.log" 2>&1
check "--report-only writes the report again from results.json" test -s "$work/whole/report.html"

# Killed at random points (the whole process group: the study and its running stage), resumed.
kills=0
for attempt in $(seq 1 12); do
  setsid "$run_study" "${study[@]}" --out "$work/killed" >>"$work/killed.log" 2>&1 &
  pid=$!
  sleep "$("$python" -c "import random; random.seed($attempt); print(round(random.uniform(0.5, 4), 2))")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    kills=$((kills + 1))
  else
    wait "$pid"
    break
  fi
done
"$run_study" "${study[@]}" --out "$work/killed" >>"$work/killed.log" 2>&1
check "the study killed $kills times finishes when resumed" test $? -eq 0
check "resumed runs report stages done earlier" grep -q "done earlier" "$work/killed.log"
check "the killed-and-resumed study equals the uninterrupted one (results, per-sample files, selections)" \
  "$python" - "$work/whole" "$work/killed" <<'PY'
import json, os, sys, filecmp
a, b = sys.argv[1:3]
ok = True
def strip(r):
    r.pop("run", None)
    return r
ra, rb = (strip(json.load(open(f"{d}/results.json"))) for d in (a, b))
ra = json.loads(json.dumps(ra).replace(a, "DIR")); rb = json.loads(json.dumps(rb).replace(b, "DIR"))
if ra != rb:
    print("results.json differ"); ok = False
compared = 0
for root, _, files in os.walk(f"{a}/stages"):
    for f in files:
        if f in ("samples.csv", "sets.csv", "checkpoint.safetensors") or f.endswith(".npy"):
            p = os.path.join(root, f); q = p.replace(a, b, 1)
            compared += 1
            if f == "checkpoint.safetensors":
                continue  # their metadata holds timings; their behaviour is in the CSVs above
            if not os.path.exists(q) or not filecmp.cmp(p, q, shallow=False):
                print("differs:", p); ok = False
print(compared, "files compared")
sys.exit(0 if ok and compared > 20 else 1)
PY

# The cifar10 preset, shrunk by flags to seconds, on tiny CIFAR-10 binary batches written here
# (class k: a bright 8x8 square at a class-specific place in channel k % 3).
"$python" - "$work/cifar" <<'PY'
import os, random, sys
out = sys.argv[1]; os.makedirs(out, exist_ok=True); rng = random.Random(0)
def batch(path, n):
    with open(path, "wb") as f:
        for i in range(n):
            label = i % 10; top, left = 2 + 8 * (label // 4), 2 + 8 * (label % 4)
            f.write(bytes([label]))
            for c in range(3):
                f.write(bytes(min(255, (200 if c == label % 3 and top <= r < top + 8 and left <= col < left + 8 else 0)
                                  + rng.randrange(40)) for r in range(32) for col in range(32)))
for k in range(1, 6): batch(f"{out}/data_batch_{k}.bin", 20)
batch(f"{out}/test_batch.bin", 40)
PY
"$run_study" --preset cifar10 --data-dir "$work/cifar" --a-epochs 15 --rungs 0.5,0.9 --depth "" --parity-epochs 2 \
  --parity-limit-train 50 --attack-n 3 --attacks ddn,fmn-linf --cw-search-steps 1 --cw-iterations 5 --ddn-steps 5 \
  --fmn-steps 5 --adv-examples 20 --adv-robust-n 10 --outlier-rungs 0.9 --outlier-max-per-set 2 \
  --outlier-rays-queries 10 --outlier-budgets 5,10 --threads 2 --out "$work/cifar-study" >"$work/cifar.log" 2>&1
check "the cifar10 preset (shrunk) runs on CIFAR-10 files and writes its report" \
  test -s "$work/cifar-study/report.html" -a -s "$work/cifar-study/results.json"
check "its models were trained on CIFAR-10" grep -q '"dataset": "cifar10"' "$work/cifar-study/stages/train-A/summary.json"

# Errors: another configuration in the same folder is refused; a bad preset or config is named.
"$run_study" "${study[@]}" --attack-n 7 --out "$work/whole" >"$work/e1.log" 2>&1
check "another configuration in the same --out is refused" grep -q "another configuration" "$work/e1.log"
"$run_study" --preset huge --out "$work/e2" >"$work/e2.log" 2>&1
check "an unknown preset is named" grep -q "unknown preset 'huge'" "$work/e2.log"
echo '{"attack_n": "ten"}' >"$work/bad.json"
"$run_study" --config "$work/bad.json" --out "$work/e3" >"$work/e3.log" 2>&1
check "a config value of the wrong kind is named" grep -q '"attack_n" is "ten"' "$work/e3.log"
echo '{"attack_m": 3}' >"$work/bad2.json"
"$run_study" --config "$work/bad2.json" --out "$work/e4" >"$work/e4.log" 2>&1
check "an unknown config key is named" grep -q 'unknown key "attack_m"' "$work/e4.log"
echo "$failures failure(s)"
exit $((failures > 0))
