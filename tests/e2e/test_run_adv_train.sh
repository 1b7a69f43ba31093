#!/usr/bin/env bash
# End-to-end: run_adv_train on a 2-rung run_prune ladder of a tiny model trained here: the
# sibling ladder's layout, exactly K adversarial examples per model, pruned weights kept, the
# checkpoints readable by run_eval, resume after a stop reproducing the uninterrupted run
# byte for byte, and bad flags (exit 2).
# Usage: test_run_adv_train.sh RUN_TRAIN RUN_PRUNE RUN_ADV_TRAIN RUN_EVAL PYTHON WORKDIR
set -uo pipefail
run_train=$1 run_prune=$2 run_adv_train=$3 run_eval=$4 python=$5 work=$6
source "$(dirname "$0")/common.sh"
"$run_train" --model resnet20 --data-dir "$work/data" --epochs 3 --batch-size 20 --lr 0.05 --out "$work/dense" \
  >"$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
"$run_prune" --from "$work/dense/checkpoint.safetensors" --data-dir "$work/data" --finetune-epochs 1 --batch-size 20 \
  --sparsity 0.5,0.9 --out "$work/ladder" >"$work/prune.log" 2>&1 || { cat "$work/prune.log"; exit 1; }

# 130 examples in batches of 20: 6 full batches and one cut to 10.
common=(--ladder "$work/ladder" --dense "$work/dense/checkpoint.safetensors" --data-dir "$work/data" --batch-size 20
        --adv-examples 130 --attack pgd-linf --eps 0.1 --steps 3 --robust-n 10 --robust-steps 5 --robust-restarts 1
        --noise-draws 10 --checkpoint-every 2)

# 1. The whole ladder in one go.
"$run_adv_train" "${common[@]}" --out "$work/adv" >"$work/adv.log" 2>&1
check "run_adv_train --ladder exits 0" test $? -eq 0
check "a sibling ladder: same rungs, same files, exactly K examples each, sparsity kept" \
  "$python" - "$work/ladder" "$work/adv" <<'PY'
import csv, json, os, sys
src, out = sys.argv[1:3]
rows = list(csv.DictReader(open(f"{out}/ladder.csv")))
source = list(csv.DictReader(open(f"{src}/ladder.csv")))
assert [r["rung"] for r in rows] == ["dense", "rung-0.5", "rung-0.9"], rows
ladder = json.load(open(f"{out}/ladder.json"))
assert ladder["options"]["from"].endswith("dense/checkpoint.safetensors") and os.path.exists(ladder["options"]["from"])
summary = json.load(open(f"{out}/summary.json"))
assert summary["adv_examples"] == 130 and isinstance(summary["warnings"], list)
for r, s, j in zip(rows, source, ladder["rungs"]):
    name = r["rung"]
    for f in ("checkpoint.safetensors", "summary.json", "train_predictions.npy", "capacity.json"):
        assert os.path.exists(f"{out}/{name}/{f}"), (name, f)
    assert not os.path.exists(f"{out}/{name}/partial"), name
    model = json.load(open(f"{out}/{name}/summary.json"))
    print(name, "examples", model["adv_examples"], "steps", model["train_steps"], "samples", model["train_samples"],
          "robust", model["robust_accuracy_before"], "->", model["robust_accuracy_after"],
          "nonzero", s["nonzero_weights"], r["nonzero_weights"])
    assert int(r["adv_examples"]) == 130 and j["adv_examples"] == 130 and model["adv_examples"] == 130
    assert model["train_steps"] == 7 and model["train_samples"] == 130
    # pruned weights stay zero (fine-tuning may only zero more by chance, never revive one)
    assert int(r["nonzero_weights"]) <= int(s["nonzero_weights"]) and int(r["weights"]) == int(s["weights"])
    assert float(r["sparsity"]) >= float(s["sparsity"]) - 1e-12
    for k in ("clean_accuracy", "robust_accuracy", "noise_accuracy"):
        for when in ("before", "after"):
            assert 0 <= float(r[f"{k}_{when}"]) <= 1
        assert model[k + "_after"] == model["after"][k]
    assert model["after"]["robust_accuracy"] <= model["after"]["clean_accuracy"]
PY
check "a fine-tuned rung reloads (masks included) with the ladder's test accuracy" last_rung_reloads "$work/adv"

# 2. Stopped after 5 checkpoints (inside rung-0.5), resumed: the same checkpoints, byte for byte.
"$run_adv_train" "${common[@]}" --out "$work/resumed" --stop-after 5 >"$work/stop.log" 2>&1
check "--stop-after stops inside the second model and says so" \
  bash -c "grep -q 'stopped after 5 checkpoint' '$work/stop.log' && test -d '$work/resumed/rung-0.5/partial'"
"$run_adv_train" "${common[@]}" --out "$work/resumed" --resume >"$work/resume.log" 2>&1
check "--resume continues where it stopped" grep -q "rung-0.5: resume after 40 of 130 adversarial examples" \
  "$work/resume.log"
for rung in dense rung-0.5 rung-0.9; do
  check "resumed $rung equals the uninterrupted one (checkpoint bytes)" \
    cmp "$work/adv/$rung/checkpoint.safetensors" "$work/resumed/$rung/checkpoint.safetensors"
done
check "resumed ladder table equals the uninterrupted one (times aside)" \
  "$python" - "$work/adv/ladder.csv" "$work/resumed/ladder.csv" <<'PY'
import csv, sys
drop = {"seconds", "train_seconds"}
a, b = ([{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(open(p))] for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
PY
"$run_adv_train" "${common[@]}" --out "$work/adv" >"$work/again.log" 2>&1
check "an existing run is not overwritten without --resume" grep -q "pass --resume" "$work/again.log"
"$run_adv_train" "${common[@]}" --out "$work/resumed" --resume --lr 0.02 >"$work/other.log" 2>&1
check "resume with other options is refused" grep -q "other options" "$work/other.log"

# 3. Bad flags: exit 2 and the flag named.
expect_usage() {  # expect_usage DESCRIPTION PATTERN ARGS...
  local what=$1 pattern=$2; shift 2
  "$run_adv_train" "$@" >"$work/usage.log" 2>&1
  local code=$?
  if [ $code -eq 2 ] && grep -q -- "$pattern" "$work/usage.log"; then echo "ok   $what"; else
    echo "FAIL $what (exit $code, expected 2 and '$pattern'):"; cat "$work/usage.log"; failures=$((failures + 1)); fi
}
dense=$work/dense/checkpoint.safetensors
expect_usage "unknown attack" "--attack" --from "$dense" --out "$work/bad" --attack fgsm
expect_usage "NaN learning rate" "--lr: 'nan' must be finite" --from "$dense" --out "$work/bad" --lr nan
expect_usage "negative eps" "--eps" --from "$dense" --out "$work/bad" --eps -0.1
expect_usage "fraction 0" "--fraction" --from "$dense" --out "$work/bad" --fraction 0
expect_usage "zero examples" "--adv-examples" --from "$dense" --out "$work/bad" --adv-examples 0
expect_usage "--from and --ladder together" "excludes" --from "$dense" --ladder "$work/ladder" --out "$work/bad"
expect_usage "neither --from nor --ladder" "exactly one of --from" --out "$work/bad"
expect_usage "no --out" "--out" --from "$dense"
"$run_adv_train" --from "$work/missing.safetensors" --data-dir "$work/data" --out "$work/bad" >"$work/bad.log" 2>&1
check "a missing checkpoint is named (exit 1)" bash -c "[ $? -eq 1 ] && grep -q missing.safetensors '$work/bad.log'"

echo "$failures failure(s)"
exit $((failures > 0))
