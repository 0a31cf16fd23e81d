#!/usr/bin/env bash
# Conversion benchmark: dprep `convert nq` (DPR JSON array → JSONL) vs Python json.load + json.dumps,
# same generated file, same run. Reports MB/s and peak RSS (/usr/bin/time -v). Deletes its files.
# Usage: bench/convert-nq.sh [SIZE_MB=1000] [WORKDIR=/tmp/dprep-bench-nq]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1000}
WORK=${2:-/tmp/dprep-bench-nq}
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
IN="$WORK/dpr.json"
nice node --import tsx bench/convert-nq-gen.ts "$IN" "$SIZE_MB"
BYTES=$(stat -c %s "$IN")
run() { # name, command...
  local name=$1; shift
  sync; cat "$IN" > /dev/null # same page-cache state for both
  /usr/bin/time -v -o "$WORK/$name.time" nice "$@" > "$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; exit 1; }
  local wall rss cpu
  cpu=$(awk -F: '/User time|System time/ { s += $2 } END { print s }' "$WORK/$name.time")
  wall=$(grep 'Elapsed (wall clock)' "$WORK/$name.time" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident set size' "$WORK/$name.time" | awk '{print $NF}')
  awk -v n="$name" -v b="$BYTES" -v w="$wall" -v r="$rss" -v c="$cpu" 'BEGIN { printf "%-8s %8.1f s %8.1f MB/s %8.0f MB peak RSS %8.1f s CPU %8.1f MB/CPU-s\n", n, w, b/1e6/w, r/1024, c, b/1e6/c }' | tee -a "$WORK/results"
}
echo "input: $BYTES bytes ($(node -e "console.log(require('os').cpus()[0].model)"), $(nproc) cores, node $(node -v), $(/usr/bin/python3 --version))"
DPREP_QUIET=1 run dprep node bin/dprep.js convert nq --input "$IN" --out "$WORK/dprep.jsonl"
run python /usr/bin/python3 bench/convert-nq-py.py "$IN" "$WORK/python.jsonl"
cmp -s <(wc -l < "$WORK/dprep.jsonl") <(wc -l < "$WORK/python.jsonl") && echo "same record count: $(wc -l < "$WORK/dprep.jsonl")"
awk 'NR==1{d=$4; dr=$6; dc=$13} NR==2{p=$4; pr=$6; pc=$13} END { printf "ratio dprep/python: wall speed %.2fx, peak RSS %.3fx, CPU speed %.2fx\n", d/p, dr/pr, dc/pc }' "$WORK/results"
