#!/usr/bin/env bash
# run_eval on an ImageNet-style folder (streamed) with a torchvision ResNet-18: a bare
# torchvision safetensors file loads with --arch and gives torchvision's logits (its Normalize
# layer implied); the converted file (mean/std in its metadata) gives the same logits;
# --dump-logits agrees with the reported accuracy; --limit reads only the files it keeps;
# run_cw and run_blackbox attack the bare file with --arch on the folder.
# Usage: test_run_eval_image_folder.sh RUN_EVAL RUN_CW RUN_BLACKBOX PYTHON WORKDIR
set -u
run_eval=$1 run_cw=$2 run_blackbox=$3 python=$4 work=$5
source "$(dirname "$0")/image_folder_common.sh"
eval_folder() {  # eval_folder NAME ARGS...: run_eval on the folder's val split into $work/NAME.{json,npy,log}
  local name=$1; shift
  "$run_eval" --data image-folder --data-dir "$work/data" --split test --batch-size 4 \
    --out "$work/$name.json" --dump-logits "$work/$name.npy" "$@" >"$work/$name.log" 2>&1
}
# logits_close A.npy B.npy: max |a - b| <= 1e-2 max |b| (stb vs PIL decoding and PIL's 8-bit resize, see
# the parity test; measured 4.1e-3 here)
logits_close() {
  "$python" - "$1" "$2" <<'PY'
import sys
import numpy as np
a, b = (np.load(p) for p in sys.argv[1:3])
err = np.abs(a - b).max() / np.abs(b).max() if a.shape == b.shape else np.inf
print(f"{sys.argv[1]} vs {sys.argv[2]}: shapes {a.shape} {b.shape}, relative error {err:.2e}")
sys.exit(0 if err <= 1e-2 else 1)
PY
}
# accuracy_matches NAME SAMPLES: the summary's sample count, and its accuracy equals the argmax of
# the dumped logits against ImageFolder's labels (class i % 3 for image i: the order is known).
accuracy_matches() {
  "$python" - "$work/$1.json" "$work/$1.npy" "$2" <<'PY'
import json, sys
import numpy as np
summary, logits, n = json.load(open(sys.argv[1])), np.load(sys.argv[2]), int(sys.argv[3])
labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])[:n]
ours = float((logits.argmax(1) == labels).mean())
print(summary["samples"], summary["accuracy"], ours)
sys.exit(0 if summary["samples"] == n and abs(summary["accuracy"] - ours) < 1e-12 else 1)
PY
}

check "bare torchvision file with --arch resnet18 evaluates" eval_folder bare --model "$work/bare.safetensors" --arch resnet18
check "its logits are torchvision's (normalised input)" logits_close "$work/bare.npy" "$work/torch_logits.npy"
check "summary accuracy = argmax of the dumped logits" accuracy_matches bare 9
check "converted file (normalize in its metadata) evaluates" eval_folder converted --model "$work/converted.safetensors"
check "converted and bare give the same logits" logits_close "$work/converted.npy" "$work/bare.npy"
# refused PATTERN ARGS...: run_eval on the folder exits with 1 and its error holds PATTERN.
refused() {
  local pattern=$1; shift
  "$run_eval" --data image-folder --data-dir "$work/data" "$@" >"$work/refused.log" 2>&1
  local status=$?
  cat "$work/refused.log"
  [ "$status" -eq 1 ] && grep -q -- "$pattern" "$work/refused.log"
}
check "without --arch a bare file is refused, naming the flag" refused "--arch" --model "$work/bare.safetensors"
# rows_in CSV N: the CSV has a header and N rows.
rows_in() {
  [ -f "$1" ] && [ "$(($(wc -l <"$1") - 1))" -eq "$2" ]
}
check "run_cw --arch resnet18 attacks 3 images of the folder (DDN)" "$run_cw" --model "$work/bare.safetensors" \
  --arch resnet18 --data-dir "$work/data" --attack ddn --ddn-steps 5 --n 3 --batch-size 3 --out "$work/cw"
check "run_cw: one row per sample" rows_in "$work/cw/ddn/samples.csv" 3
check "run_blackbox --arch resnet18 attacks 3 images of the folder (Square)" "$run_blackbox" \
  --model "$work/bare.safetensors" --arch resnet18 --data-dir "$work/data" --attack square-linf --eps 0.05 \
  --queries 20 --n 3 --batch-size 3 --out "$work/bb"
check "run_blackbox: one row per sample" rows_in "$work/bb/square-linf/eps-0.05/samples.csv" 3
# An unreadable file after the first 4: --limit 4 never opens it; without --limit it is named.
printf 'not a jpeg' >"$work/data/val/class2/img8.JPEG"
check "--limit 4 reads only the files it keeps" eval_folder limited --model "$work/converted.safetensors" --limit 4
check "--limit 4: 4 samples, consistent accuracy" accuracy_matches limited 4
check "without --limit the broken file is named" refused "img8.JPEG: cannot decode image" \
  --model "$work/converted.safetensors"
[ "$failures" -eq 0 ] && echo "all checks passed" || { echo "$failures check(s) failed"; exit 1; }
