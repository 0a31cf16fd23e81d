#!/usr/bin/env bash
# Scaling of a sharded step from 1 to 2 Slurm "nodes" against the local executor (issue 14).
# The step is debug.shard with CPU-bound records (--rounds sha256 per record): encode's --unit
# support is not merged yet. Needs a 2-node cluster on this machine:
#   SLURM_DIR=/tmp/dprep-slurm2 NODES=2 CPUS=1 scripts/slurm-up.sh; export SLURM_CONF=/tmp/dprep-slurm2/slurm.conf
# Usage: bench/slurm-scaling.sh [LINES] [ROUNDS] [UNITS]
set -euo pipefail
LINES=${1:-2000}; ROUNDS=${2:-5000}; UNITS=${3:-8}
DPREP=$(cd "$(dirname "$0")/.." && pwd)/bin/dprep.js
export DPREP_TEST_COMMANDS=1 DPREP_QUIET=1
dir=$(mktemp -d /tmp/dprep-scaling.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
seq 1 "$LINES" | sed 's/^/passage /' > in.txt
cat > p.yaml <<YAML
name: scaling
executor: { poll: 0.5, max-parallel: 2, time: "00:30:00" }
steps:
  shard:
    uses: debug.shard
    with: { input: in.txt, out: s.txt, rounds: $ROUNDS, units: '\${params.units}' }
params: { units: $UNITS }
YAML
one() {  # label, dprep run args...
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  node "$DPREP" run p.yaml --workdir "w-$label" "$@" > /dev/null
  t1=$(date +%s.%N)
  printf '%-34s %7.2f s  out %s  lock %s\n' "$label" "$(echo "$t1 - $t0" | bc)" "$(md5sum < "w-$label/s.txt" | cut -c1-8)" "$(md5sum < "w-$label/dprep.lock.yaml" | cut -c1-8)"
}
echo "debug.shard: $LINES records x $ROUNDS sha256 rounds, $UNITS units; $(nproc) cores; $(date -u +%FT%TZ)"
one local-whole --set params.units=1 --executor local
one local-units-in-process --executor local
one slurm-1-node --executor slurm --set executor.partition=first
one slurm-2-nodes --executor slurm
