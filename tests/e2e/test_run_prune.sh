#!/usr/bin/env bash
# End-to-end: run_prune's ladder on a tiny model trained here, its resume and its errors.
# Usage: test_run_prune.sh RUN_TRAIN RUN_PRUNE RUN_EVAL PYTHON WORKDIR
set -uo pipefail
run_train=$1 run_prune=$2 run_eval=$3 python=$4 work=$5
source "$(dirname "$0")/common.sh"
"$run_train" --model resnet20 --data-dir "$work/data" --epochs 8 --batch-size 20 --lr 0.05 --out "$work/dense" \
  >"$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
dense=$work/dense/checkpoint.safetensors
common=(--from "$dense" --data-dir "$work/data" --finetune-epochs 1 --batch-size 20)

check "the dense model learned the tiny task" grep -q "final: .*test accuracy [89][0-9]\.\|test accuracy 100" "$work/train.log"

# 1. A global ladder: exact sparsities, one checkpoint per rung, the outlier counts.
"$run_prune" "${common[@]}" --sparsity 0.5,0.9 --out "$work/global" >"$work/global.log" 2>&1
check "run_prune (global) exits 0" test $? -eq 0
check "the ladder's numbers hold: sparsity, FLOPs, outlier counts from the predictions" \
  "$python" - "$work/global" "$work/data" <<'PY'
import csv, gzip, json, sys
import numpy as np
out, data = sys.argv[1:3]
rows = list(csv.DictReader(open(f"{out}/ladder.csv")))
assert [r["rung"] for r in rows] == ["dense", "rung-0.5", "rung-0.9"], rows
with gzip.open(f"{data}/train-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read()[8:], dtype=np.uint8).astype(np.int64)
a = np.load(f"{out}/dense/train_predictions.npy")
for r in rows[1:]:
    cap = json.load(open(f"{out}/{r['rung']}/capacity.json"))
    pruned = [l for l in cap["layers"] if l["name"] != "conv1"]  # the stem stays dense by default
    zeros = sum(l["weights"] - l["nonzero_weights"] for l in pruned)
    total = sum(l["weights"] for l in pruned)
    target = float(r["sparsity_target"])
    print(r["rung"], zeros / total, "test", r["test_accuracy"], "A right B wrong", r["a_right_b_wrong"])
    assert zeros == round(target * total), (zeros, target * total)
    for l in cap["layers"]:  # effective FLOPs: each nonzero weight once per output position
        assert abs(l["flops_effective"] * l["weights"] - l["flops_dense"] * l["nonzero_weights"]) < 1e-6 * l["flops_dense"] * l["weights"], l
    assert abs(sum(l["flops_effective"] for l in cap["layers"]) - float(r["flops_effective"])) < 1.0
    b = np.load(f"{out}/{r['rung']}/train_predictions.npy")
    assert int(r["a_right_b_wrong"]) == int(((a == labels) & (b != labels)).sum())
    assert int(r["a_wrong_b_right"]) == int(((a != labels) & (b == labels)).sum())
    assert abs(float(r["train_accuracy"]) - (b == labels).mean()) < 1e-9
PY
check "a rung's checkpoint (with its masks) reloads with the ladder's test accuracy" last_rung_reloads "$work/global"

"$run_eval" --model "$work/global/rung-0.9/checkpoint.safetensors" --data-dir "$work/data" --split test \
  --sparse 0.85 --dump-logits "$work/sparse_logits.npy" --out "$work/eval_sparse.json" >"$work/eval_sparse.log" 2>&1
"$run_eval" --model "$work/global/rung-0.9/checkpoint.safetensors" --data-dir "$work/data" --split test \
  --dump-logits "$work/dense_logits.npy" >/dev/null 2>&1
check "run_eval --sparse runs pruned convs on the sparse path with the dense path's logits" \
  "$python" - "$work/eval_sparse.log" "$work/sparse_logits.npy" "$work/dense_logits.npy" <<'PY'
import re, sys
import numpy as np
layers = int(re.search(r"sparse path: (\d+) conv layers", open(sys.argv[1]).read()).group(1))
a, b = np.load(sys.argv[2]), np.load(sys.argv[3])
print("sparse layers", layers, "max logit difference", np.abs(a - b).max())
sys.exit(0 if layers >= 5 and np.abs(a - b).max() < 1e-3 * max(1.0, np.abs(b).max()) else 1)
PY

run_cw=$(dirname "$run_prune")/run_cw
"$run_cw" --model "$work/global/rung-0.5/checkpoint.safetensors" --data-dir "$work/data" --attack ddn --ddn-steps 10 \
  --n 20 --sparse 0.4 --out "$work/cw_sparse" >"$work/cw_sparse.log" 2>&1
check "run_cw --sparse attacks a pruned rung on the sparse path" \
  grep -q "sparse path: [1-9][0-9]* conv layers" "$work/cw_sparse.log"

# 2. Resume: drop the last rung as a kill during it would, and continue; same numbers.
cp -r "$work/global" "$work/killed"
"$python" - "$work/killed/ladder.json" <<'PY'
import json, sys
ladder = json.load(open(sys.argv[1]))
ladder["rungs"].pop()
json.dump(ladder, open(sys.argv[1], "w"))
PY
rm -rf "$work/killed/rung-0.9"
"$run_prune" "${common[@]}" --sparsity 0.5,0.9 --out "$work/killed" --resume >"$work/resume.log" 2>&1
check "resume continues after the finished rung" grep -q "resume: 1 of 2 rungs done" "$work/resume.log"
check "the resumed ladder reproduces the uninterrupted one" "$python" - "$work/global/ladder.csv" "$work/killed/ladder.csv" <<'PY'
import sys
strip = lambda path: [",".join(line.split(",")[:-1]) for line in open(path)]  # drop seconds
a, b = strip(sys.argv[1]), strip(sys.argv[2])
print("\n".join(b))
sys.exit(0 if a == b else 1)
PY
"$run_prune" "${common[@]}" --sparsity 0.5,0.8 --out "$work/killed" --resume >"$work/other.log" 2>&1
check "resume with other options is refused" grep -q "ran with other options" "$work/other.log"
"$run_prune" "${common[@]}" --sparsity 0.5,0.9 --out "$work/global" >"$work/again.log" 2>&1
check "an existing ladder is not overwritten without --resume" grep -q "pass --resume" "$work/again.log"

# 3. Layer-wise with the cubic schedule, and filter pruning (the layers shrink).
"$run_prune" "${common[@]}" --sparsity 0.6 --method layer --schedule cubic --prune-every 2 --out "$work/layer" \
  >"$work/layer.log" 2>&1
check "layer-wise cubic: every pruned layer at the exact fraction" "$python" - "$work/layer" <<'PY'
import json, sys
cap = json.load(open(f"{sys.argv[1]}/rung-0.6/capacity.json"))
for l in cap["layers"][1:]:
    assert l["weights"] - l["nonzero_weights"] == round(0.6 * l["weights"]), l
print("ok")
PY
"$run_prune" "${common[@]}" --sparsity 0.5 --method filter --out "$work/filter" >"$work/filter.log" 2>&1
check "filter pruning halves the inner channels and the FLOPs drop" "$python" - "$work/filter" <<'PY'
import json, sys
ladder = json.load(open(f"{sys.argv[1]}/ladder.json"))
dense, rung = ladder["rungs"]
cap = json.load(open(f"{sys.argv[1]}/rung-0.5/capacity.json"))
conv1 = next(l for l in cap["layers"] if l["name"] == "layer1.0.conv1")
print(conv1["weight_shape"], rung["flops_dense"] / dense["flops_dense"])
assert conv1["weight_shape"] == [8, 16, 3, 3]
assert rung["flops_dense"] < 0.6 * dense["flops_dense"] and rung["sparsity"] > 0.4
PY

# 4. Bad input: clear errors.
"$run_prune" "${common[@]}" --sparsity 0.9,0.5 --out "$work/bad1" >"$work/bad1.log" 2>&1
check "falling sparsities are refused" grep -q "must rise strictly" "$work/bad1.log"
"$run_prune" "${common[@]}" --method magic --out "$work/bad2" >"$work/bad2.log" 2>&1
check "an unknown method is named" grep -q "'magic'" "$work/bad2.log"
"$run_prune" "${common[@]}" --method filter --schedule cubic --out "$work/bad3" >"$work/bad3.log" 2>&1
check "filter pruning with the cubic schedule is refused" grep -q "filter pruning is one-shot" "$work/bad3.log"
"$run_prune" --from "$work/missing.safetensors" --out "$work/bad4" >"$work/bad4.log" 2>&1
check "a missing checkpoint is named" grep -q "missing.safetensors" "$work/bad4.log"

echo "$failures failure(s)"
exit $((failures > 0))
