#!/usr/bin/env bash
# End-to-end: the same seed and thread count give bit-identical CPU results. run_train,
# run_prune (fine-tuning included), run_cw and run_blackbox each run twice into two
# directories; their checkpoints (tensors and metadata, timings aside), predictions and
# per-sample CSVs must be equal byte for byte.
# Usage: test_determinism.sh RUN_TRAIN RUN_PRUNE RUN_CW RUN_BLACKBOX PYTHON WORKDIR
set -uo pipefail
run_train=$1 run_prune=$2 run_cw=$3 run_blackbox=$4 python=$5 work=$6
source "$(dirname "$0")/common.sh"
data=$work/data

# same_checkpoint A B: equal tensors (names, dtypes, shapes, bytes) and equal metadata once
# the wall-clock fields are left out.
same_checkpoint() {
  "$python" - "$1" "$2" <<'PY'
import json, struct, sys
def read(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    history = json.loads(meta.pop("history", "[]"))
    for epoch in history:
        for timing in ("seconds", "train_images_per_second"):
            epoch.pop(timing, None)
    meta.pop("seconds", None)
    return header, raw[8 + n :], meta, history
a, b = read(sys.argv[1]), read(sys.argv[2])
for part, name in zip(range(4), ("tensor headers", "tensor bytes", "metadata", "history")):
    if a[part] != b[part]:
        sys.exit(f"{sys.argv[1]} and {sys.argv[2]} differ in their {name}")
PY
}

for run in 1 2; do
  "$run_train" --data-dir "$data" --epochs 2 --batch-size 20 --flip true --crop-padding 2 --seed 3 --threads 2 \
    --out "$work/train$run" >"$work/train$run.log" 2>&1 || { cat "$work/train$run.log"; exit 1; }
done
check "run_train: the same checkpoint twice" same_checkpoint "$work/train1/checkpoint.safetensors" \
  "$work/train2/checkpoint.safetensors"
check "run_train: the same optimizer state twice" same_checkpoint "$work/train1/optimizer-2.safetensors" \
  "$work/train2/optimizer-2.safetensors"
model=$work/train1/checkpoint.safetensors

for run in 1 2; do
  "$run_prune" --from "$model" --data-dir "$data" --sparsity 0.5,0.8 --schedule cubic --finetune-epochs 1 \
    --batch-size 20 --seed 3 --threads 2 --out "$work/prune$run" >"$work/prune$run.log" 2>&1 ||
    { cat "$work/prune$run.log"; exit 1; }
done
for rung in rung-0.5 rung-0.8; do
  check "run_prune: the same $rung checkpoint twice" same_checkpoint "$work/prune1/$rung/checkpoint.safetensors" \
    "$work/prune2/$rung/checkpoint.safetensors"
  check "run_prune: the same $rung predictions twice" cmp "$work/prune1/$rung/train_predictions.npy" \
    "$work/prune2/$rung/train_predictions.npy"
done

for run in 1 2; do
  "$run_cw" --model "$model" --data-dir "$data" --n 6 --batch-size 4 --attack cw-l2,ddn,fmn-linf --targeted \
    --target random --seed 5 --search-steps 3 --iterations 50 --c0 1 --ddn-steps 60 --fmn-steps 20 --threads 2 \
    --out "$work/cw$run" >"$work/cw$run.log" 2>&1 || { cat "$work/cw$run.log"; exit 1; }
  "$run_blackbox" --model "$model" --data-dir "$data" --n 6 --batch-size 4 --attack square-linf,rays-linf,noise-l2 \
    --eps 0.1,1 --queries 30 --seed 5 --threads 2 --out "$work/bb$run" >"$work/bb$run.log" 2>&1 ||
    { cat "$work/bb$run.log"; exit 1; }
done
for csv in $(cd "$work/cw1" && find . -name samples.csv | sort); do
  check "run_cw: the same $csv twice" cmp "$work/cw1/$csv" "$work/cw2/$csv"
done
for csv in $(cd "$work/bb1" && find . -name samples.csv | sort); do
  check "run_blackbox: the same $csv twice" cmp "$work/bb1/$csv" "$work/bb2/$csv"
done
check "run_cw and run_blackbox wrote the CSVs compared" test "$(find "$work/cw1" "$work/bb1" -name samples.csv | wc -l)" -eq 10

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
