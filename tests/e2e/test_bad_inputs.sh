#!/usr/bin/env bash
# End-to-end: every executable against bad input (missing files, directories for files,
# hostile checkpoints, NaN weights and inputs, a model that does not fit the data, zero
# samples, out-of-range and conflicting flags, an --out that is a file, a full disk). Each must exit 1 or 2
# (no signal, no core dump) with an error line naming what is wrong, and leave the results
# an earlier run wrote byte-identical.
# Running as root, a read-only --out cannot be tested (root writes anyway); an --out below a
# plain file stands in for an unwritable one.
# Usage: test_bad_inputs.sh RUN_TRAIN RUN_EVAL RUN_CW RUN_BLACKBOX RUN_PRUNE PYTHON WORKDIR
set -uo pipefail
run_train=$1 run_eval=$2 run_cw=$3 run_blackbox=$4 run_prune=$5 python=$6 work=$7
source "$(dirname "$0")/common.sh"
data=$work/data

# The earlier results that no failed run may touch: a trained model, a run_cw and a
# run_blackbox directory, a prune ladder.
earlier=$work/earlier
"$run_train" --data-dir "$data" --epochs 1 --batch-size 20 --out "$earlier/model" >"$work/train.log" 2>&1 ||
  { cat "$work/train.log"; exit 1; }
model=$earlier/model/checkpoint.safetensors
"$python" "$here/make_hostile_checkpoints.py" "$model" "$work/bad" || exit 1
same_run_cw=(--attack ddn --ddn-steps 5)
same_run_blackbox=(--attack noise-linf --eps 0.1 --queries 5)
"$run_cw" --model "$model" --data-dir "$data" --n 2 "${same_run_cw[@]}" --out "$earlier/run_cw" >/dev/null 2>&1 &&
  "$run_blackbox" --model "$model" --data-dir "$data" --n 2 "${same_run_blackbox[@]}" --out "$earlier/run_blackbox" \
    >/dev/null 2>&1 &&
  "$run_prune" --from "$model" --data-dir "$data" --sparsity 0.5 --finetune-epochs 0 --out "$earlier/ladder" \
    >/dev/null 2>&1 || { echo "the earlier runs failed"; exit 1; }
cp -r "$earlier" "$work/earlier.copy"

# Bad files beside the good ones.
: >"$work/empty.txt"
echo 100000 >"$work/out_of_range.txt"
: >"$work/a_file"
"$python" - "$work" <<'PY'
import gzip, struct, sys
work = sys.argv[1]
def npy(name, shape, value):  # a float32 .npy written by hand (no numpy needed)
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (tuple(shape),)
    header += " " * (63 - len(header) % 64) + "\n"
    count = 1
    for s in shape:
        count *= s
    with open(f"{work}/{name}", "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<f", value) * count)
npy("nan_inputs.npy", [2, 1, 28, 28], float("nan"))
npy("inf_inputs.npy", [2, 1, 28, 28], float("inf"))
npy("bright_inputs.npy", [2, 1, 28, 28], 3.0)
npy("no_inputs.npy", [0, 1, 28, 28], 0.0)
npy("rgb_inputs.npy", [2, 3, 28, 28], 0.5)
# A data directory whose training images claim 2^27 images the file does not hold.
import os, shutil
shutil.copytree(f"{work}/data", f"{work}/lying_data")
with gzip.open(f"{work}/lying_data/train-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, 2**27, 28, 28) + bytes(1000))
PY

# refuses DESCRIPTION PATTERN COMMAND...: the command exits 1 or 2, stderr names PATTERN, and
# the earlier results are unchanged.
refuses() {
  local what=$1 pattern=$2; shift 2
  "$@" >"$work/last.out" 2>"$work/last.err"
  local code=$?
  if [ $code -ne 1 ] && [ $code -ne 2 ]; then
    echo "FAIL $what: exit code $code"; tail -3 "$work/last.err"; failures=$((failures + 1)); return
  fi
  if ! grep -qF -- "$pattern" "$work/last.err"; then
    echo "FAIL $what: stderr does not name '$pattern':"; tail -3 "$work/last.err"; failures=$((failures + 1)); return
  fi
  if ! diff -r "$earlier" "$work/earlier.copy" >/dev/null; then
    echo "FAIL $what: the earlier results changed"; failures=$((failures + 1))
    rm -rf "$earlier" && cp -r "$work/earlier.copy" "$earlier"  # so that the next cases start from them
    return
  fi
  echo "ok   $what (exit $code: $(grep -F -- "$pattern" "$work/last.err" | head -1))"
}

# 1. Checkpoints: missing, a directory, structurally broken, hostile, non-finite, wrong classes.
checkpoint_cases=(truncated header_past_eof empty overlapping_offsets shape_overflow offsets_past_end
                  metadata_classes metadata_image_size metadata_in_channels nan_weight inf_buffer)
for tool in run_eval run_cw run_blackbox run_prune; do
  case $tool in
    run_eval) run=("$run_eval" --out "$earlier/run_cw/ddn/summary.json") flag=--model ;;
    run_cw) run=("$run_cw" --n 2 "${same_run_cw[@]}" --out "$earlier/run_cw") flag=--model ;;
    run_blackbox) run=("$run_blackbox" --n 2 "${same_run_blackbox[@]}" --out "$earlier/run_blackbox")
      flag=--model ;;
    run_prune) run=("$run_prune" --finetune-epochs 0 --out "$work/ladder") flag=--from ;;
  esac
  given() { "${run[@]}" --data-dir "$data" $flag "$@"; }  # the command with a data set and this checkpoint
  refuses "$tool: a missing checkpoint" "missing.safetensors" given "$work/missing.safetensors"
  refuses "$tool: a directory as the checkpoint" "$earlier/model" given "$earlier/model"
  for name in "${checkpoint_cases[@]}"; do
    refuses "$tool: checkpoint $name" "$name.safetensors" given "$work/bad/$name.safetensors"
  done
  refuses "$tool: a 5-class model on 10-class data" "5 classes" given "$work/bad/five_classes.safetensors"
  refuses "$tool: a missing data directory" "$work/no_data" "${run[@]}" --data-dir "$work/no_data" $flag "$model"
done
refuses "run_eval: an IDX header claiming more data than the file holds" "train-images-idx3-ubyte.gz" \
  "$run_eval" --model "$model" --data-dir "$work/lying_data" --split train
refuses "run_eval: the metadata's field named" "'classes' is 1000000000000" \
  "$run_eval" --model "$work/bad/metadata_classes.safetensors" --data-dir "$data"
refuses "run_eval: the NaN weight's tensor and index named" "tensor '9.weight' holds nan at flat index 7" \
  "$run_eval" --model "$work/bad/nan_weight.safetensors" --data-dir "$data"

# 2. Inputs (.npy): NaN, inf, outside [0, 1], none, the wrong channels, not a .npy.
for name in nan_inputs inf_inputs bright_inputs no_inputs rgb_inputs; do
  refuses "run_eval --input $name" "$name.npy" "$run_eval" --model "$model" --input "$work/$name.npy"
done
refuses "run_eval --input: an empty file" "empty.txt" "$run_eval" --model "$model" --input "$work/empty.txt"

# 3. Zero samples and bad sample lists.
for tool in run_cw run_blackbox; do
  run=("${!tool}" --model "$model" --data-dir "$data" --out "$earlier/$tool")
  refuses "$tool --n 0" "--n" "${run[@]}" --n 0
  refuses "$tool --n -3" "--n" "${run[@]}" --n -3
  refuses "$tool: an empty --indices file" "empty.txt" "${run[@]}" --indices "$work/empty.txt"
  refuses "$tool: an index past the split" "out_of_range.txt" "${run[@]}" --indices "$work/out_of_range.txt"
  refuses "$tool: --n and --indices together" "--indices" "${run[@]}" --n 2 --indices "$work/empty.txt"
  refuses "$tool --batch-size 0" "--batch-size" "${run[@]}" --n 2 --batch-size 0
  refuses "$tool: an unknown attack" "bogus" "${run[@]}" --n 2 --attack bogus
  same=(); [ $tool = run_cw ] && same=("${same_run_cw[@]}") || same=("${same_run_blackbox[@]}")
  refuses "$tool: another run's --out without --resume" "pass --resume" "${run[@]}" --n 2 "${same[@]}"
  refuses "$tool: an --out below a plain file" "a_file" \
    "${!tool}" --model "$model" --data-dir "$data" --n 2 "${same[@]}" --out "$work/a_file/sub"
done
refuses "run_cw --resume without --out" "--resume requires --out" "$run_cw" --model "$model" --data-dir "$data" --resume
refuses "run_cw --ddn-steps -1" "--ddn-steps: Value -1 is not above 0" "$run_cw" --model "$model" --ddn-steps -1
refuses "run_cw --gamma 2" "--gamma" "$run_cw" --model "$model" --gamma 2
refuses "run_cw --threads 0" "--threads" "$run_cw" --model "$model" --threads 0
refuses "run_blackbox --queries 0" "--queries: Value 0 is not above 0" "$run_blackbox" --model "$model" --queries 0
refuses "run_blackbox --eps -1" "--eps" "$run_blackbox" --model "$model" --data-dir "$data" --eps -1
refuses "run_blackbox --p-init 2" "--p-init" "$run_blackbox" --model "$model" --p-init 2

# 4. run_eval's and run_prune's flags.
for value in 0 -5; do
  refuses "run_eval --batch-size $value" "--batch-size: Value $value is not above 0" \
    "$run_eval" --model "$model" --data-dir "$data" --batch-size $value
done
refuses "run_eval --limit -1" "--limit: Value -1 is not 0 or above" "$run_eval" --model "$model" --limit -1
refuses "run_eval --split val" "--split" "$run_eval" --model "$model" --data-dir "$data" --split val
refuses "run_eval --out below a plain file" "a_file" "$run_eval" --model "$model" --data-dir "$data" \
  --out "$work/a_file/summary.json"
prune=("$run_prune" --from "$model" --data-dir "$data" --out "$work/ladder")
refuses "run_prune --sparsity 1.5" "--sparsity" "${prune[@]}" --sparsity 1.5
refuses "run_prune --sparsity falling" "--sparsity" "${prune[@]}" --sparsity 0.9,0.5
refuses "run_prune --lr nan" "--lr: Value nan is not above 0" "${prune[@]}" --lr nan
refuses "run_prune --lr -1" "--lr" "${prune[@]}" --lr -1
refuses "run_prune --limit-train -1" "--limit-train" "${prune[@]}" --limit-train -1
refuses "run_prune --limit-test -1" "--limit-test" "${prune[@]}" --limit-test -1
refuses "run_prune --batch-size 0" "--batch-size" "${prune[@]}" --batch-size 0
refuses "run_prune --method bogus" "bogus" "${prune[@]}" --method bogus
refuses "run_prune --schedule cubic with filter pruning" "--schedule" "${prune[@]}" --method filter --schedule cubic
refuses "run_prune: a finished ladder's --out without --resume" "pass --resume" \
  "$run_prune" --from "$model" --data-dir "$data" --sparsity 0.5 --finetune-epochs 0 --out "$earlier/ladder"
refuses "run_prune --out below a plain file" "a_file" "$run_prune" --from "$model" --data-dir "$data" \
  --finetune-epochs 0 --sparsity 0.5 --out "$work/a_file/ladder"
check "run_prune made no --out for the runs it refused" test ! -e "$work/ladder"

# 5. run_train (its flags as they are today).
train=("$run_train" --epochs 1)
refuses "run_train --batch-size 0" "--batch-size" "${train[@]}" --data-dir "$data" --batch-size 0 --out "$work/train"
refuses "run_train --epochs -1" "--epochs" "$run_train" --data-dir "$data" --epochs -1 --out "$work/train"
refuses "run_train: a missing data directory" "$work/no_data" "${train[@]}" --data-dir "$work/no_data" --out "$work/train"
refuses "run_train: an IDX header claiming more data than the file holds" "train-images-idx3-ubyte.gz" \
  "${train[@]}" --data-dir "$work/lying_data" --out "$work/train"
refuses "run_train: a finished run's --out without --resume" "--resume" \
  "${train[@]}" --data-dir "$data" --out "$earlier/model"
refuses "run_train --out below a plain file" "a_file" "${train[@]}" --data-dir "$data" --out "$work/a_file/train"
check "run_train wrote nothing for the runs it refused" test ! -e "$work/train"

# 6. A full disk: a 1 MiB tmpfs (mounting needs root, or CAP_SYS_ADMIN in a container). run_eval
# writes a summary there, a file fills the rest, and then run_eval and run_cw must fail naming
# the file they could not write, leaving that first summary intact.
full=$work/full_disk
mkdir -p "$full"
if mount -t tmpfs -o size=1m tmpfs "$full" 2>"$work/mount.err"; then
  trap 'umount "$full"' EXIT
  "$run_eval" --model "$model" --data-dir "$data" --limit 20 --out "$full/first.json" >/dev/null 2>&1 ||
    { echo "FAIL full disk: run_eval could not write its first summary"; failures=$((failures + 1)); }
  cp "$full/first.json" "$work/first.json.copy"
  dd if=/dev/zero of="$full/filler" bs=4k 2>/dev/null  # until the disk is full
  refuses "run_eval --out on a full disk" "$full/second.json" \
    "$run_eval" --model "$model" --data-dir "$data" --limit 20 --out "$full/second.json"
  refuses "run_cw --out on a full disk" "$full/run_cw" \
    "$run_cw" --model "$model" --data-dir "$data" --n 2 "${same_run_cw[@]}" --out "$full/run_cw"
  check "the summary written before the disk filled is intact" cmp "$full/first.json" "$work/first.json.copy"
  check "no half-written summary is left" test ! -e "$full/second.json"
else
  # Not a pass: the case did not run. Say why, so that a reader of the log knows.
  echo "SKIPPED full disk: cannot mount a tmpfs here ($(head -1 "$work/mount.err"))"
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
