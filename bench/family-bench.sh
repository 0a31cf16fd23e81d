#!/usr/bin/env bash
# Training throughput per encoder family (BERT, RoBERTa, DistilBERT, T5 at BERT-tiny's shape), dprep
# beside PyTorch, in rounds: each round runs dprep's families interleaved step by step
# (bench/family-throughput.ts, 2 replicas as trained by default) and PyTorch's same shapes interleaved
# the same way on 1 and on 2 threads (bench/train-torch.py --family all). bench/family-summary.py
# prints medians over rounds with their min–max and each family's per-FLOP cost relative to BERT.
# Usage: bench/family-bench.sh [rounds] [steps]      (needs: apt-get install python3-torch; scripts/build-native.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-10}
log=${FAMILY_BENCH_LOG:-/tmp/family-bench.$$.jsonl}
: > "$log"
load() { echo "{\"impl\": \"load\", \"round\": $1, \"at\": \"$2\", \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$log"; }
date -u +"date %Y-%m-%dT%H:%MZ"; echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; log $log"
for r in $(seq 1 "$rounds"); do
  load "$r" start
  nice -n 10 /usr/bin/python3 bench/train-torch.py --sgemm-only --threads 2 | sed "s/^{/{\"round\": $r, /" >> "$log"
  nice -n 10 npx tsx bench/family-throughput.ts --steps "$steps" --workers 2 | sed "s/^{/{\"round\": $r, /" >> "$log"
  nice -n 10 /usr/bin/python3 bench/train-torch.py --family all --steps "$steps" --threads 1 | sed "s/^{/{\"round\": $r, /" >> "$log"
  nice -n 10 /usr/bin/python3 bench/train-torch.py --family all --steps "$steps" --threads 2 | sed "s/^{/{\"round\": $r, /" >> "$log"
  load "$r" end
  echo "round $r done ($(cut -d' ' -f1-3 /proc/loadavg))"
done
/usr/bin/python3 bench/family-summary.py "$log"
