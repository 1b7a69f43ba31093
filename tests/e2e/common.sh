# Sourced by the e2e scripts after they set $work and $python: a fresh work directory with
# the tiny IDX data set in $work/data, a failure counter and `check`.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/checks.sh"
"$python" "$here/make_tiny_idx.py" "$work/data" || exit 1
# last_rung_reloads LADDER_DIR: run_eval ($run_eval) on the checkpoint of the ladder's last rung
# gives the test accuracy its ladder.json records (the masks travel with the checkpoint).
last_rung_reloads() {
  local ladder=$1 rung
  rung=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["rungs"][-1]["rung"])' "$ladder/ladder.json")
  "$run_eval" --model "$ladder/$rung/checkpoint.safetensors" --data-dir "$work/data" --split test \
    --out "$work/eval.json" >"$work/eval.log" 2>&1 || return 1
  "$python" - "$ladder/ladder.json" "$work/eval.json" <<'PY'
import json, sys
ladder, ev = (json.load(open(p)) for p in sys.argv[1:3])
print(ladder["rungs"][-1]["test_accuracy"], ev["accuracy"])
sys.exit(0 if abs(ladder["rungs"][-1]["test_accuracy"] - ev["accuracy"]) < 1e-9 else 1)
PY
}
