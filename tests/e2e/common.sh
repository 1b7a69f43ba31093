# Sourced by the e2e scripts after they set $work and $python: a fresh work directory with
# the tiny IDX data set in $work/data, a failure counter and `check`.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rm -rf "$work" && mkdir -p "$work"
failures=0
check() {  # check DESCRIPTION COMMAND...: counts a failure when the command fails
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
"$python" "$here/make_tiny_idx.py" "$work/data" || exit 1
