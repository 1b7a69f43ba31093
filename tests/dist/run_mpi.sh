#!/usr/bin/env bash
# Runs a command as 2 MPI ranks on this machine: mpirun -np 2, oversubscribed (the CI machine
# may have fewer cores), allowed as root (containers). Exits 77 (ctest: skipped), saying why,
# when mpirun is not installed; never reports that as a pass.
# Usage: run_mpi.sh COMMAND [ARG...]
if ! command -v mpirun >/dev/null 2>&1; then
  echo "SKIPPED: mpirun is not installed (Debian: apt-get install openmpi-bin libopenmpi-dev)"
  exit 77
fi
exec mpirun -np 2 --oversubscribe --allow-run-as-root "$@"
