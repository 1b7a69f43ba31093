#!/usr/bin/env bash
# The study's report in a real browser: writes the synthetic demo report (make_demo_report),
# opens report.html in headless Chromium and checks that
#   - the page logs nothing to the console (no error, no failed load: a clean report logs nothing);
#   - every <svg> of the page Chromium parsed has drawn content (a line, point or bar);
# and keeps a screenshot, OUT/report.png (1200 x 4000).
# A probe page with a deliberate console error first proves that console messages are caught.
# Exits 77 (skipped) only when Chromium is not installed.
# Usage: render_report.sh MAKE_DEMO_REPORT OUT_DIR
set -euo pipefail
make_demo_report=$1
out=$2

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (Debian: apt-get install chromium)"
  exit 77
fi

rm -rf "$out"
mkdir -p "$out"
"$make_demo_report" "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# run_chromium LOG ARGS...: headless Chromium with console messages logged to LOG
# (lines with ":CONSOLE"), its own profile, no sandbox (tests may run as root).
run_chromium() {
  local log=$1
  shift
  timeout 120 "$browser" --headless --disable-gpu --no-sandbox --hide-scrollbars --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 "$@" 2>"$log"
}

# The probe: its console error must be caught, or the check below would prove nothing.
printf '<!DOCTYPE html><html><body><script>console.error("render-probe")</script></body></html>\n' >"$out/probe.html"
run_chromium "$out/probe.log" --dump-dom "file://$out/probe.html" >/dev/null
if ! grep -q ':CONSOLE.*render-probe' "$out/probe.log"; then
  echo "FAIL: the probe's console error was not caught; Chromium's log:" >&2
  cat "$out/probe.log" >&2
  exit 1
fi

# The report: the DOM as Chromium parsed it, and its console messages.
run_chromium "$out/console.log" --dump-dom "file://$out/report.html" >"$out/dom.html"
if grep -E ':CONSOLE|Uncaught' "$out/console.log" >&2; then
  echo "FAIL: report.html logged the console messages above" >&2
  exit 1
fi

# Every <svg> element holds at least one polyline, circle or rect.
svgs=$(grep -o '<svg' "$out/dom.html" | wc -l)
read -r total empty < <(awk 'BEGIN { RS = "<svg"; total = 0; empty = 0 }
  NR > 1 { total++; body = substr($0, 1, index($0, "</svg>"));
           if (body !~ /<(polyline|circle|rect)/) empty++ }
  END { print total, empty }' "$out/dom.html")
if [ "$svgs" -lt 1 ] || [ "$total" -ne "$svgs" ] || [ "$empty" -ne 0 ]; then
  echo "FAIL: $svgs <svg> elements in the parsed page, $empty of them without drawn content" >&2
  exit 1
fi
if [ "$svgs" -ne "$(grep -o '<svg' "$out/report.html" | wc -l)" ]; then
  echo "FAIL: Chromium parsed $svgs <svg> elements, report.html has $(grep -o '<svg' "$out/report.html" | wc -l)" >&2
  exit 1
fi

run_chromium "$out/screenshot.log" --screenshot="$out/report.png" --window-size=1200,4000 "file://$out/report.html"
if [ ! -s "$out/report.png" ]; then
  echo "FAIL: no screenshot; Chromium's log:" >&2
  cat "$out/screenshot.log" >&2
  exit 1
fi
echo "report.html: $svgs plots, all drawn; no console messages; screenshot $out/report.png"
