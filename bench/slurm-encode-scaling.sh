#!/usr/bin/env bash
# Scaling of a sharded `encode` from 1 to 2 Slurm "nodes" against the local executor (issue 14),
# the encode sibling of bench/slurm-scaling.sh. Corpus: SQuAD v1.1 dev converted to ~100-word
# passages (psgs_w100's unit), first PASSAGES of them; model: bert-tiny (fixtures/models) at random
# init. One BLAS thread per process (OPENBLAS_NUM_THREADS=1), as on a one-CPU node. Needs a
# 2-node cluster on this machine:
#   SLURM_DIR=/tmp/dprep-slurm2 NODES=2 CPUS=1 scripts/slurm-up.sh; export SLURM_CONF=/tmp/dprep-slurm2/slurm.conf
# Usage: bench/slurm-encode-scaling.sh [PASSAGES] [UNITS] [SHARD_ROWS]
set -euo pipefail
PASSAGES=${1:-1600}; UNITS=${2:-8}; SHARD_ROWS=${3:-100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DPREP=$ROOT/bin/dprep.js
export DPREP_QUIET=1 OPENBLAS_NUM_THREADS=1
dir=$(mktemp -d /tmp/dprep-enc-scaling.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
node "$DPREP" convert squad --input "$ROOT/../shared/data/squad_v1.1/dev-v1.1.json" --out dev.dpr.jsonl --corpus all.jsonl > /dev/null 2>&1
head -n "$PASSAGES" all.jsonl > corpus.jsonl
node "$DPREP" init-model --config "$ROOT/fixtures/models/bert-tiny/config.json" --vocab "$ROOT/fixtures/models/bert-tiny" --out model --seed 1 > /dev/null 2>&1
cat > p.yaml <<YAML
name: encode-scaling
executor: { poll: 0.5, max-parallel: 2, time: "00:30:00" }
params: { units: $UNITS }
steps:
  encode:
    uses: encode
    with: { model: model, corpus: corpus.jsonl, out: emb, batch: 20, shard-rows: $SHARD_ROWS, max-length: 128, units: '\${params.units}' }
YAML
one() {  # label, dprep run args...
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  node "$DPREP" run p.yaml --workdir "w-$label" "$@" > "log-$label" 2>&1 || { cat "log-$label"; exit 1; }
  t1=$(date +%s.%N)
  printf '%-28s %7.2f s  manifest %s  shard-00000.f32 %s  lock %s  load %s\n' "$label" "$(echo "$t1 - $t0" | bc)" \
    "$(md5sum < "w-$label/emb/manifest.json" | cut -c1-8)" "$(md5sum < "w-$label/emb/shard-00000.f32" | cut -c1-8)" \
    "$(md5sum < "w-$label/dprep.lock.yaml" | cut -c1-8)" "$(cut -d' ' -f1 /proc/loadavg)"
}
echo "encode: $PASSAGES passages, bert-tiny, $UNITS units of whole $SHARD_ROWS-row shards; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
one local-whole --set params.units=1 --executor local
one local-units-in-process --executor local
one slurm-1-node --executor slurm --set executor.partition=first
one slurm-2-nodes --executor slurm
