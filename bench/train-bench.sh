#!/usr/bin/env bash
# Trainer throughput benchmark: dprep (tfjs wasm) and PyTorch (Debian python3-torch) side by side in
# one run, same BERT bi-encoder step, plus this machine's sgemm rate (torch.mm, 2 threads).
# Usage: bench/train-bench.sh [tiny|base] [steps]     (needs: apt-get install python3-torch; scripts/build-native.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-tiny}
steps=${2:-5}
micro=16
[ "$size" = base ] && micro=1   # the 4 GB wasm heap per replica; accumulation equals the full batch here
date -u +"date %Y-%m-%dT%H:%MZ"; echo "load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
nice -n 10 /usr/bin/python3 bench/train-torch.py --sgemm-only --threads 2
# dprep as trained by default (native kernels when built, 2 data-parallel replicas), on 1 replica, and
# on tfjs's own wasm kernels (DPREP_NATIVE=0: what a machine without scripts/build-native.sh gets)
nice -n 10 npx tsx bench/train-throughput.ts --size "$size" --batch 16 --micro "$micro" --steps "$steps" --workers 2
nice -n 10 npx tsx bench/train-throughput.ts --size "$size" --batch 16 --micro "$micro" --steps "$steps" --workers 1
[ "$size" = base ] || DPREP_NATIVE=0 nice -n 10 npx tsx bench/train-throughput.ts --size "$size" --batch 16 --micro "$micro" --steps "$steps" --workers 2
nice -n 10 /usr/bin/python3 bench/train-torch.py --size "$size" --batch 16 --steps "$steps" --threads 2
nice -n 10 /usr/bin/python3 bench/train-torch.py --size "$size" --batch 16 --steps "$steps" --threads 1
nice -n 10 /usr/bin/python3 bench/train-torch.py --sgemm-only --threads 2
