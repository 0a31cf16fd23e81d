#!/usr/bin/env bash
# Issue 12's quality benchmark: BM25, stage 1 and stage 2 (in-batch false-negative mask off / on)
# on held-out questions of a real set, over 3 seeds, with mean ± spread.
#   bench/quality.sh squad|piaf [seed ...] [-- --set KEY=VALUE ...]
# Each seed runs bench/quality-<set>.yaml (dprep's own commands: convert, split, BM25, train,
# encode, mine dense, eval) in its own workdir, .bench-data/quality/<set>-seed<N>, with
# params.seed=N; bench/quality-summary.py then tables every seed's report.json. A rerun reuses the
# finished steps (the pipeline's cache); QUALITY_WORKDIR changes the workdir root.
set -euo pipefail
cd "$(dirname "$0")/.."
set_name=${1:?usage: bench/quality.sh squad|piaf [seed ...] [-- --set KEY=VALUE ...]}
shift
seeds=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2 3)
root=${QUALITY_WORKDIR:-.bench-data/quality}
date -u +"date %Y-%m-%dT%H:%MZ"
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); node $(node --version)"
echo "command: bench/quality.sh $set_name ${seeds[*]} -- $*"
start=$(date +%s)
dirs=()
for s in "${seeds[@]}"; do
  dir="$root/$set_name-seed$s"
  t0=$(date +%s)
  node bin/dprep.js run "bench/quality-$set_name.yaml" --workdir "$dir" --set "params.seed=$s" "$@"
  echo "seed $s: $(( $(date +%s) - t0 )) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
  dirs+=("$dir")
done
echo "total: $(( $(date +%s) - start )) s"
/usr/bin/python3 bench/quality-summary.py "${dirs[@]}"
