#!/usr/bin/env bash
# Screenshot of an HTML report (dprep eval report --html-out) with headless Chromium, as in the README:
#   scripts/report-screenshot.sh WORKDIR/report.html docs/report.png [WIDTH] [HEIGHT]
# Networking features off, a fresh profile removed afterwards, the browser bounded by a timeout.
set -euo pipefail
html=$(realpath "$1"); png=$2; width=${3:-1024}; height=${4:-1530}
chromium=${DPREP_CHROMIUM:-chromium}
profile=$(mktemp -d "${TMPDIR:-/tmp}/dprep-shot.XXXXXX")
trap 'rm -rf "$profile"' EXIT
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --window-size="$width,$height" --screenshot="$png" "file://$html" 2>/dev/null
ls -l "$png"
