#!/usr/bin/env bash
# Gives each MPI rank on a node its own GPU: the rank's index on its node (Open MPI's
# OMPI_COMM_WORLD_LOCAL_RANK, Slurm's SLURM_LOCALID) selects the GPU, by CUDA_VISIBLE_DEVICES,
# before the program starts. Usage: mpirun -np 8 tools/one_gpu_per_rank.sh ./build/experiments/run_cw ...
set -euo pipefail
local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${SLURM_LOCALID:-}}
if [ -z "$local_rank" ]; then
  echo "one_gpu_per_rank.sh: not started by mpirun or srun (no OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID)" >&2
  exit 2
fi
gpus=$(nvidia-smi --list-gpus 2>/dev/null | wc -l)
if [ "$gpus" -lt 1 ]; then
  echo "one_gpu_per_rank.sh: no GPU is visible on $(hostname) (nvidia-smi --list-gpus lists none)" >&2
  exit 2
fi
if [ "$local_rank" -ge "$gpus" ]; then  # NCCL refuses two ranks on one GPU
  echo "one_gpu_per_rank.sh: local rank $local_rank on $(hostname), which has $gpus GPU(s): start at most $gpus ranks per node" >&2
  exit 2
fi
export CUDA_VISIBLE_DEVICES=$local_rank
exec "$@"
