#!/usr/bin/env bash
# run_prune and run_adv_train on a bare torchvision ResNet-18 file (--arch resnet18) and a tiny
# image folder's train split: one pruning rung with --keep-first-dense (the stem conv stays
# dense, the others are pruned) and a few adversarial fine-tuning steps. What they write carries
# our metadata (architecture, the ImageNet normalisation, the data set), so run_eval loads it
# without --arch and measures the accuracy the writer recorded.
# Usage: test_image_folder_prune_adv_train.sh RUN_PRUNE RUN_ADV_TRAIN RUN_EVAL PYTHON WORKDIR
set -u
run_prune=$1 run_adv_train=$2 run_eval=$3 python=$4 work=$5
source "$(dirname "$0")/image_folder_common.sh"
data=(--data-dir "$work/data" --limit-train 6 --limit-test 9 --batch-size 3)  # the test split: 3 classes

# metadata_is_ours CKPT: the file's metadata names resnet18, ImageNet's mean/std and the image folder.
metadata_is_ours() {
  "$python" - "$1" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
meta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
print({k: meta.get(k) for k in ("architecture", "dataset", "normalize")})
sys.exit(0 if meta.get("architecture") == "resnet18" and meta.get("dataset") == "image-folder"
         and json.loads(meta.get("normalize", "{}")).get("mean") == [0.485, 0.456, 0.406] else 1)
PY
}
# first_conv_dense_others_pruned CKPT: conv1.weight has no zero; the other convs together about half.
first_conv_dense_others_pruned() {
  "$python" - "$1" <<'PY'
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
def weights(key):
    begin, end = header[key]["data_offsets"]
    return np.frombuffer(raw[8 + n + begin:8 + n + end], dtype="<f4")
convs = [k for k, v in header.items() if k.endswith(".weight") and len(v["shape"]) == 4 and k != "conv1.weight"]
first = float((weights("conv1.weight") == 0).mean())
others = float(np.mean(np.concatenate([weights(k) for k in convs]) == 0))
print(f"zero fraction: conv1 {first:.3f}, the other {len(convs)} convs {others:.3f}")
sys.exit(0 if first == 0 and 0.45 < others < 0.55 else 1)
PY
}
# eval_matches CKPT LIMIT RECORDED_JSON KEY: run_eval without --arch on the first LIMIT images of the
# val split gives the test accuracy the writer recorded under KEY (a path: keys and list indices
# joined by dots) in RECORDED_JSON.
eval_matches() {
  "$run_eval" --model "$1" --data-dir "$work/data" --split test --limit "$2" --out "$work/eval.json" \
    >"$work/eval.log" 2>&1 || { cat "$work/eval.log"; return 1; }
  "$python" - "$3" "$4" "$work/eval.json" <<'PY'
import json, sys
recorded = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    recorded = recorded[int(key)] if isinstance(recorded, list) else recorded[key]
measured = json.load(open(sys.argv[3]))["accuracy"]
print("recorded", recorded, "run_eval", measured)
sys.exit(0 if abs(recorded - measured) < 1e-9 else 1)
PY
}

check "run_prune --arch resnet18: one rung at 0.5, --keep-first-dense, one fine-tune epoch" \
  "$run_prune" --from "$work/bare.safetensors" --arch resnet18 "${data[@]}" --sparsity 0.5 --keep-first-dense true \
  --finetune-epochs 1 --out "$work/prune"
rung="$work/prune/rung-0.5/checkpoint.safetensors"
check "the rung carries our metadata" metadata_is_ours "$rung"
check "the ladder's options record --arch (a resume must read the file the same way)" \
  "$python" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["options"].get("arch") != "resnet18")' \
  "$work/prune/ladder.json"
check "the stem conv stays dense, the inner convs are pruned" first_conv_dense_others_pruned "$rung"
check "run_eval loads the rung without --arch: the ladder's test accuracy" \
  eval_matches "$rung" 9 "$work/prune/ladder.json" "rungs.1.test_accuracy"

check "run_adv_train --arch resnet18: 4 adversarial examples on the train split" \
  "$run_adv_train" --from "$work/bare.safetensors" --arch resnet18 "${data[@]}" --adv-examples 4 --steps 1 \
  --eps 0.01 --robust-n 2 --robust-steps 2 --robust-restarts 1 --noise-draws 2 --out "$work/adv"
check "it saw exactly 4 adversarial examples" \
  "$python" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["adv_examples"] != 4)' "$work/adv/summary.json"
check "its checkpoint carries our metadata" metadata_is_ours "$work/adv/checkpoint.safetensors"
check "run_eval loads it without --arch: the summary's test accuracy" \
  eval_matches "$work/adv/checkpoint.safetensors" 9 "$work/adv/summary.json" "test_accuracy"
[ "$failures" -eq 0 ] && echo "all checks passed" || { echo "$failures check(s) failed"; exit 1; }
