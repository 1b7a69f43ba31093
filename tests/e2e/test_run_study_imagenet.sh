#!/usr/bin/env bash
# run_study --preset imagenet on a tiny image folder, with tiny budgets: A and the depth ladder
# are converted torchvision checkpoints with random weights and 3 classes (ResNet-18 stands in
# for ResNet-50, ResNet-34 for ResNet-101: the real ones cost minutes per stage here). A is
# pruned at one rung here; the memorisation control is trained here. report.md and results.json
# hold the depth ladder; A, listed in depth_checkpoints too, is measured once (its numbers are
# A's). Refused before any stage runs (no config.json kept): a bare torchvision file, a file of
# another architecture, depth and depth_checkpoints together.
# Usage: test_run_study_imagenet.sh RUN_STUDY PYTHON WORKDIR
set -u
run_study=$1 python=$2 work=$3
source "$(dirname "$0")/image_folder_common.sh"
"$python" "$here/../../tools/torchvision_to_safetensors.py" --arch resnet34 --random-init --seed 6 --num-classes 3 \
  --out "$work/resnet34.safetensors" || exit 1
a="$work/converted.safetensors"
cat >"$work/config.json" <<EOF
{"data_dir": "$work/data", "model_a": "$a",
 "depth_checkpoints": "resnet18=$a,resnet34=$work/resnet34.safetensors",
 "rungs": "0.5", "outlier_rungs": "0.5", "parity_epochs": 1, "parity_limit_train": 6, "eval_limit": 0,
 "attack_n": 1, "attacks": "cw-l2,ddn", "cw_search_steps": 1, "cw_iterations": 3, "ddn_steps": 3, "fmn_steps": 3,
 "adv_examples": 3, "adv_steps": 1, "adv_robust_n": 1,
 "outlier_limit": 0, "outlier_max_per_set": 2, "outlier_rays_queries": 5, "outlier_budgets": "5",
 "outlier_eps": "0.05"}
EOF

"$run_study" --preset imagenet --config "$work/config.json" --out "$work/study" >"$work/study.log" 2>&1
status=$?
[ "$status" -eq 0 ] || tail -n 40 "$work/study.log" "$work/study/study.log"
check "the study exits 0" test "$status" -eq 0
check "it wrote report.md and results.json" test -s "$work/study/report.md" -a -s "$work/study/results.json"
check "results.json: the depth ladder resnet18, resnet34 (depth, capacity, accuracies, attacks before and after)" \
  "$python" - "$work/study/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ladders = {l["kind"]: l for l in r["ladders"]}
depth, prune = ladders["depth"]["models"], ladders["prune"]["models"]
for m in depth: print(m["name"], m["x"], m["capacity"], m["test_accuracy"])
ok = [(m["name"], m["x"]) for m in depth] == [("resnet18", 18), ("resnet34", 34)]
ok = ok and all(m["capacity"] > 0 and 0 <= m["test_accuracy"] <= 1 and "after" in m["attacks"] for m in depth)
# capacity: the parameters of torchvision's resnet18/resnet34(num_classes=3), as run_eval counts them
ok = ok and [m["capacity"] for m in depth] == [11178051, 21286211]
ok = ok and [m["name"] for m in prune] == ["dense", "rung-0.5"] and r["run"]["preset"] == "imagenet"
# A is the resnet18 of the depth ladder: the same numbers, from the same stages.
for key in ("train_accuracy", "test_accuracy", "attacks"):
    ok = ok and depth[0][key] == prune[0][key]
sys.exit(0 if ok else 1)
PY
check "A is measured once (no stages of its depth-ladder name)" \
  test ! -e "$work/study/stages/eval-resnet18-test.json" -a ! -e "$work/study/stages/adv-resnet18"
check "report.md shows the depth ladder" grep -q "resnet34" "$work/study/report.md"

# refused PATTERN ARGS...: the study with ARGS stops before any stage and keeps no config.json (a
# corrected config may use the same --out); its error holds PATTERN.
refused() {
  local pattern=$1; shift
  rm -rf "$work/refused"
  "$run_study" --preset imagenet --config "$work/config.json" "$@" --out "$work/refused" >"$work/refused.log" 2>&1
  local status=$?
  cat "$work/refused.log"
  [ "$status" -ne 0 ] && grep -q -- "$pattern" "$work/refused.log" && [ ! -e "$work/refused/stages/prune" ] &&
    [ ! -e "$work/refused/config.json" ]
}
check "a bare torchvision file is refused, naming the converter" \
  refused "torchvision_to_safetensors" --depth-checkpoints "resnet18=$work/bare.safetensors"
check "a file of another architecture is refused" \
  refused "holds a resnet18, not a resnet50" --depth-checkpoints "resnet50=$a"
check "depth and depth_checkpoints together are refused" refused "give the depth ladder once" --depth resnet20
[ "$failures" -eq 0 ] && echo "all checks passed" || { echo "$failures check(s) failed"; exit 1; }
