#!/usr/bin/env bash
# The executables as 2 MPI ranks against one process, on the tiny data set of the e2e tests:
#   1. run_train under mpirun -np 2 gives the model of one process that simulates 2 ranks
#      (--simulate-ranks 2: the same global batches, BatchNorm statistics per slice), within
#      1e-5 of each tensor's largest value; the loss history agrees too, and --resume works.
#      run_prune (one rung, fine-tuned) and run_adv_train under mpirun -np 2 likewise give the
#      models of one process with --simulate-ranks 2.
#   2. run_cw, run_blackbox and run_outlier under mpirun -np 2 write the same samples.csv (and
#      sets.csv), byte for byte, and the same summary.json but for the seconds, as one process.
#   3. A run_cw and a run_outlier whose rank 1 is killed (SIGKILL) mid-run keep the batches the
#      ranks finished; --resume measures only the missing samples and ends with the
#      single-process files.
#   4. run_study's tiny preset with --launcher (2 ranks) runs its training, pruning, attack and
#      OutlierAttack stages as 2 ranks and writes its report; rerun without the launcher, it finds
#      every stage done; run_study itself under mpirun is refused.
# Exits 77 (skipped) with the reason when mpirun is not installed.
# Usage: test_mpi_runs.sh RUN_TRAIN RUN_PRUNE RUN_ADV_TRAIN RUN_CW RUN_BLACKBOX RUN_OUTLIER RUN_STUDY PYTHON
#                          WORKDIR
set -uo pipefail
run_train=$1 run_prune=$2 run_adv_train=$3 run_cw=$4 run_blackbox=$5 run_outlier=$6 run_study=$7 python=$8 work=$9
if ! command -v mpirun >/dev/null 2>&1; then
  echo "SKIPPED: mpirun is not installed (Debian: apt-get install openmpi-bin libopenmpi-dev)"
  exit 77
fi
source "$(dirname "$0")/../e2e/common.sh"
mpi=("$(dirname "$0")/run_mpi.sh")

# ---- 1. data-parallel training ---------------------------------------------------------------
# simulated_and_mpi NAME COMMAND...: COMMAND --simulate-ranks 2 --out $work/NAME-simulated in one
# process and COMMAND --out $work/NAME-mpi as 2 ranks; both must exit 0.
simulated_and_mpi() {
  local name=$1; shift
  "$@" --simulate-ranks 2 --out "$work/$name-simulated" >"$work/$name-simulated.log" 2>&1
  check "$name --simulate-ranks 2 exits 0" test $? -eq 0
  "${mpi[@]}" "$@" --out "$work/$name-mpi" >"$work/$name-mpi.log" 2>&1
  check "$name under mpirun -np 2 exits 0" test $? -eq 0
}
# 181 images in batches of 20: the last batch has 1 row, rank 0's whole (weight 1), rank 1 none.
train_args=(--data-dir "$work/data" --limit-train 181 --epochs 2 --batch-size 20 --lr 0.05 --threads 1)
simulated_and_mpi train "$run_train" "${train_args[@]}"
compare_checkpoints() {  # compare_checkpoints A B TOLERANCE: every tensor within TOLERANCE * max|A|
  "$python" - "$@" <<'PY'
import array, json, struct, sys
def tensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    kinds = {"F32": "f", "F64": "d", "I64": "q"}
    out = {}
    for key, v in header.items():
        values = array.array(kinds[v["dtype"]])
        values.frombytes(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
        out[key] = values
    return out
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
tolerance = float(sys.argv[3])
assert a.keys() == b.keys(), (sorted(a), sorted(b))
def relative(x, y):
    return max((abs(p - q) for p, q in zip(x, y)), default=0.0) / max(max((abs(p) for p in x), default=0.0), 1e-30)
worst = max(relative(a[k], b[k]) for k in a)
print(f"{len(a)} tensors, largest difference relative to the tensor's largest value: {worst:.3g}")
sys.exit(0 if worst <= tolerance else 1)
PY
}
check "mpirun -np 2 model equals the one-process model of 2 simulated ranks (1e-5)" \
  compare_checkpoints "$work/train-simulated/checkpoint.safetensors" "$work/train-mpi/checkpoint.safetensors" 1e-5
check "the 2-rank loss history is the global one (equal to the simulated run's within 1e-5)" "$python" - \
  "$work/train-simulated/history.csv" "$work/train-mpi/history.csv" <<'PY'
import csv, sys
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
ok = len(a) == len(b) == 2
for x, y in zip(a, b):
    for column in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        print(column, x[column], y[column])
        ok &= abs(float(x[column]) - float(y[column])) <= 1e-5 * max(1.0, abs(float(x[column])))
sys.exit(0 if ok else 1)
PY
# The test accuracy is a real check only if the model learned: the tiny task is separable.
check "the 2-rank model learned the tiny task (test accuracy above 80%)" grep -q '"test_accuracy": 0\.[89]\|"test_accuracy": 1' \
  "$work/train-mpi/summary.json"
check "no temporary file left behind by the ranks" test -z "$(find "$work/train-mpi" -name '*.tmp*')"
"${mpi[@]}" "$run_train" "${train_args[@]}" --out "$work/mpi-resumed" --stop-after 1 >"$work/mpi-r1.log" 2>&1
"${mpi[@]}" "$run_train" "${train_args[@]}" --out "$work/mpi-resumed" --resume >"$work/mpi-r2.log" 2>&1
check "mpirun --resume continues after epoch 1" grep -q "resume: .* after epoch 1" "$work/mpi-r2.log"
check "the resumed 2-rank run ends with the uninterrupted 2-rank model (1e-6)" \
  compare_checkpoints "$work/train-mpi/checkpoint.safetensors" "$work/mpi-resumed/checkpoint.safetensors" 1e-6

# The fine-tuning of run_prune and of run_adv_train: the same data-parallel loop.
prune_args=(--from "$work/train-mpi/checkpoint.safetensors" --data-dir "$work/data" --limit-train 181 --limit-test 50
            --sparsity 0.5 --finetune-epochs 1 --batch-size 20 --threads 1)
simulated_and_mpi prune "$run_prune" "${prune_args[@]}"
check "run_prune: the 2-rank rung equals the one-process rung of 2 simulated ranks (1e-5)" compare_checkpoints \
  "$work/prune-simulated/rung-0.5/checkpoint.safetensors" "$work/prune-mpi/rung-0.5/checkpoint.safetensors" 1e-5
check "run_prune: the same ladder.csv but for the seconds" "$python" - "$work/prune-simulated/ladder.csv" \
  "$work/prune-mpi/ladder.csv" <<'PY'
import csv, sys
a, b = ([{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(open(p))] for p in sys.argv[1:3])
sys.exit(0 if a == b and len(a) == 2 else 1)
PY
adv_args=(--from "$work/train-mpi/checkpoint.safetensors" --data-dir "$work/data" --limit-train 181 --limit-test 50
          --adv-examples 60 --steps 2 --batch-size 20 --robust-n 30 --robust-batch-size 8 --robust-steps 4
          --robust-restarts 1 --noise-draws 5 --threads 1)
simulated_and_mpi adv "$run_adv_train" "${adv_args[@]}"
check "run_adv_train: the 2-rank model equals the one-process model of 2 simulated ranks (1e-5)" compare_checkpoints \
  "$work/adv-simulated/checkpoint.safetensors" "$work/adv-mpi/checkpoint.safetensors" 1e-5
check "run_adv_train: the same robustness before and after (4 batches measured 2 a rank, summed)" "$python" - \
  "$work/adv-simulated/summary.json" "$work/adv-mpi/summary.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ("clean_accuracy", "robust_accuracy", "noise_accuracy", "broken_by_noise_only", "samples")
for when in ("before", "after"):
    print(when, [(k, a[when][k], b[when][k]) for k in keys])
sys.exit(0 if all(a[w][k] == b[w][k] for w in ("before", "after") for k in keys) else 1)
PY
check "run_adv_train: no partial checkpoint or temporary file left" \
  test -z "$(find "$work/adv-mpi" "$work/prune-mpi" -name 'partial' -o -name '*.tmp*')"

# ---- 2. sharded attacks ----------------------------------------------------------------------
model="$work/train-mpi/checkpoint.safetensors"
# same_run_files DIR_A DIR_B SUBDIR...: in each SUBDIR, every .csv identical and summary.json
# equal but for the seconds; no rank file left in DIR_B.
same_run_files() {
  local a=$1 b=$2 ok=0 sub file; shift 2
  for sub in "$@"; do
    for file in "$a/$sub"/*.csv; do
      cmp -s "$file" "$b/$sub/$(basename "$file")" || { echo "$sub/$(basename "$file") differs"; ok=1; }
    done
    "$python" - "$a/$sub/summary.json" "$b/$sub/summary.json" <<'PY' || ok=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for s in (a, b):
    s.pop("seconds")
if a != b:
    print(sys.argv[1], "and", sys.argv[2], "differ:", {k for k in a if a.get(k) != b.get(k)})
sys.exit(0 if a == b else 1)
PY
  done
  [ -z "$(find "$b" -name 'samples.rank-*')" ] || { echo "rank files left in $b"; ok=1; }
  return $ok
}
# one_and_two NAME COMMAND...: COMMAND --out $work/NAME-one in one process, --out $work/NAME-two
# as 2 ranks; both must exit 0.
one_and_two() {
  local name=$1; shift
  "$@" --out "$work/$name-one" >"$work/$name-one.log" 2>&1
  check "$name in one process exits 0" test $? -eq 0
  "${mpi[@]}" "$@" --out "$work/$name-two" >"$work/$name-two.log" 2>&1
  check "$name under mpirun -np 2 exits 0" test $? -eq 0
}
cw_args=(--model "$model" --data-dir "$work/data" --n 24 --batch-size 2 --attack ddn,pgd-bisect-linf
         --ddn-steps 20 --bisect-steps 4 --pgd-iterations 5 --threads 1)
one_and_two cw "$run_cw" "${cw_args[@]}"
check "run_cw: 2 ranks write the single-process files (but seconds); no rank file left" \
  same_run_files "$work/cw-one" "$work/cw-two" ddn pgd-bisect-linf best
check "run_cw: all 24 samples in the 2-rank run" grep -q '"samples": 24' "$work/cw-two/best/summary.json"

bb_args=(--model "$model" --data-dir "$work/data" --n 20 --batch-size 3 --attack square-linf,noise-linf
         --eps 0.05,0.2 --queries 30 --bisect 2 --threads 1)
one_and_two bb "$run_blackbox" "${bb_args[@]}"
check "run_blackbox: 2 ranks write the single-process files (but seconds); no rank file left" \
  same_run_files "$work/bb-one" "$work/bb-two" square-linf/eps-0.05 square-linf/eps-0.2 noise-linf/eps-0.05 \
  noise-linf/eps-0.2
check "run_blackbox: all 20 samples in the 2-rank run" grep -q '"samples": 20' "$work/bb-two/square-linf/eps-0.2/summary.json"

# The OutlierAttack needs a B that gets some training samples wrong: a short, slow training.
"$run_train" --data-dir "$work/data" --limit-train 181 --epochs 1 --batch-size 20 --lr 0.002 --seed 1 --threads 1 \
  --out "$work/b" >"$work/b.log" 2>&1
check "run_train of B exits 0" test $? -eq 0
outlier_args=(--a "$model" --b "$work/b/checkpoint.safetensors" --data-dir "$work/data" --max-per-set 6 --eps 0.05
              --budgets 5,20 --rays-queries 20 --ddn-steps 10 --fmn-steps 10 --batch-size 2 --threads 1)
one_and_two outlier "$run_outlier" "${outlier_args[@]}"
check "run_outlier: 2 ranks write the single-process sets.csv, samples.csv and summary.json (but seconds)" \
  same_run_files "$work/outlier-one" "$work/outlier-two" .
check "run_outlier: the run measured some outliers (S) and is complete" "$python" - "$work/outlier-two/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("measured per set:", s["selection"]["measured_per_set"])
sys.exit(0 if s["complete"] and s["selection"]["measured_per_set"].get("S", 0) > 0 else 1)
PY

# ---- 3. a rank killed mid-run, then --resume ---------------------------------------------------
# kill_rank1 NAME RANK_FILE MIN_ROWS COMMAND...: COMMAND --out $work/NAME as 2 ranks; rank 1 is
# killed (SIGKILL) once RANK_FILE (under $work/NAME) has MIN_ROWS rows.
kill_rank1() {
  local name=$1 rank_file=$2 min_rows=$3 launcher victim="" pid rows; shift 3
  "${mpi[@]}" "$@" --out "$work/$name" >"$work/$name.log" 2>&1 &
  launcher=$!
  for _ in $(seq 1 3000); do
    rows=0
    [ -f "$work/$name/$rank_file" ] && rows=$(($(wc -l <"$work/$name/$rank_file") - 1))
    [ "$rows" -ge "$min_rows" ] && break
    sleep 0.02
  done
  for pid in $(pgrep -P "$launcher" -f "$1"; pgrep -f "$1.*$work/$name"); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$pid && break
  done
  [ -n "$victim" ] && kill -9 "$victim"
  wait "$launcher"
  local status=$?
  check "$name: rank 1 was found and killed after its first batch, which ended the run with an error" \
    test -n "$victim" -a "$status" -ne 0
}
# finished_samples DIR GLOB: the samples (split and index) in the CSV files DIR/GLOB.
finished_samples() {
  "$python" - "$1" "$2" <<'PY'
import csv, glob, sys
rows = set()
for path in glob.glob(sys.argv[1] + "/" + sys.argv[2]):
    rows |= {(r.get("split"), r["index"]) for r in csv.DictReader(open(path))}
print(len(rows))
PY
}

kill_rank1 cw-killed ddn/samples.rank-1.csv 2 "$run_cw" "${cw_args[@]}"
done_before=$(finished_samples "$work/cw-killed" "ddn/samples*.csv")
echo "ddn samples finished before the kill: $done_before of 24"
check "run_cw: some but not all samples were finished before the kill" test "$done_before" -gt 0 -a "$done_before" -lt 24
"${mpi[@]}" "$run_cw" "${cw_args[@]}" --out "$work/cw-killed" --resume >"$work/cw-resumed.log" 2>&1
check "run_cw: the --resume run exits 0" test $? -eq 0
check "run_cw: the --resume run starts from exactly the finished samples" \
  grep -q "resume: $done_before samples already done in $work/cw-killed/ddn/samples.csv" "$work/cw-resumed.log"
check "run_cw: after the resume, the single-process files" \
  same_run_files "$work/cw-one" "$work/cw-killed" ddn pgd-bisect-linf best

# A row per measure: 6 measures (square at one radius, rays, ddn, fmn: 4) of 2 samples = 8 rows.
kill_rank1 outlier-killed samples.rank-1.csv 8 "$run_outlier" "${outlier_args[@]}"
done_before=$(finished_samples "$work/outlier-killed" "samples*.csv")
all=$(finished_samples "$work/outlier-one" "samples.csv")
echo "outlier samples finished before the kill: $done_before of $all"
check "run_outlier: some but not all samples were finished before the kill" \
  test "$done_before" -gt 0 -a "$done_before" -lt "$all"
"${mpi[@]}" "$run_outlier" "${outlier_args[@]}" --out "$work/outlier-killed" --resume >"$work/outlier-resumed.log" 2>&1
check "run_outlier: the --resume run exits 0" test $? -eq 0
check "run_outlier: the --resume run starts from exactly the finished samples" \
  grep -q "resume: $done_before samples already measured" "$work/outlier-resumed.log"
check "run_outlier: after the resume, the single-process files" \
  same_run_files "$work/outlier-one" "$work/outlier-killed" .

# ---- 4. the study's stages as 2 ranks -------------------------------------------------------------
study=(--preset tiny --data-dir "$work/data" --threads 1 --out "$work/study")
"$run_study" "${study[@]}" --launcher "${mpi[*]}" >"$work/study.out" 2>&1
check "run_study --launcher run_mpi.sh exits 0 and writes its report" test $? -eq 0 -a -s "$work/study/report.md"
check "its stages ran as 2 ranks (training, pruning, attacks, fine-tuning, the OutlierAttack)" "$python" - \
  "$work/study/study.log" <<'PY'
import re, sys
log = open(sys.argv[1]).read()
launched = {m.group(1) for m in re.finditer(r"^==== \S+: \S*run_mpi\.sh \S*/(run_\w+)", log, re.M)}
print("launched as 2 ranks:", sorted(launched))
ok = launched == {"run_train", "run_prune", "run_cw", "run_adv_train", "run_outlier"}
ok = ok and "on 2 rank(s)" in log and "ranks: 2; gradient all-reduce" in log
sys.exit(0 if ok else 1)
PY
"$run_study" "${study[@]}" >"$work/study-again.out" 2>&1
check "rerun without the launcher: the same study, every stage done earlier" \
  test $? -eq 0 -a "$(grep -c 'done earlier' "$work/study-again.out")" -eq "$(grep -c '^\[' "$work/study-again.out")"
"${mpi[@]}" "$run_study" "${study[@]}" >"$work/study-mpirun.out" 2>&1
check "run_study under mpirun is refused, pointing to --launcher" grep -q "with --launcher 'mpirun -np K'" \
  "$work/study-mpirun.out"

[ "$failures" -eq 0 ] && echo "all checks passed" || echo "$failures check(s) failed"
exit $((failures > 0))
