# Sourced by the e2e scripts after they set $work: a fresh work directory, a failure counter and
# `check`.
rm -rf "$work" && mkdir -p "$work"
failures=0
check() {  # check DESCRIPTION COMMAND...: counts a failure when the command fails
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
