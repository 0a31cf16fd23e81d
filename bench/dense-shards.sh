#!/usr/bin/env bash
# Dense search over sharded embeddings (issue 14): exact shard by shard (faiss flat per shard, and the
# JS search) vs Python faiss holding all rows, and IVF-PQ built from the shards vs Python faiss IVF-PQ,
# recall@K against exact. Usage: bench/dense-shards.sh N DIM SHARD_ROWS NQ K NLIST NPROBE PQM [THREADS]
# e.g. bench/dense-shards.sh 8800000 64 500000 500 100 1024 32 8 1
# Data in .bench-data/dense-N-DIM/ (git-ignored). One JSON line per step, with peak RSS (KB).
set -euo pipefail
cd "$(dirname "$0")/.."
N=$1; DIM=$2; SR=$3; NQ=$4; K=$5; NLIST=$6; NPROBE=$7; PQM=$8; TH=${9:-1}
D=.bench-data/dense-$N-$DIM
export DPREP_QUIET=1 OMP_WAIT_POLICY=PASSIVE
T() { /usr/bin/time -f '{"step":"'"$1"'","wallSeconds":%e,"peakRssKB":%M}' "${@:2}"; }
echo "{\"date\":\"$(date -u +%FT%TZ)\",\"cpus\":$(nproc),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"n\":$N,\"dim\":$DIM,\"shardRows\":$SR,\"bytes\":$((N*DIM*4)),\"shardBytes\":$((SR*DIM*4))}"
[ -f "$D/manifest.json" ] && grep -q '"complete": true' "$D/manifest.json" || T gen nice node --import tsx bench/dense-shards.ts gen "$D" "$N" "$DIM" "$SR" "$NQ"
T exact-faiss-shards nice node --import tsx bench/dense-shards.ts exact "$D" "$K" "$TH" faiss
T python-exact-all-rows nice /usr/bin/python3 bench/dense-shards-peer.py exact "$D" "$K" "$TH"
TRAIN=$((NLIST*39)); [ $TRAIN -lt 9984 ] && TRAIN=9984
rm -f "$D"/ann-ivfpq-*
T ivfpq-build-search nice node --import tsx bench/dense-shards.ts ann "$D" "$K" "$TH" ivfpq "$NLIST" "$NPROBE" "$PQM"
T ivfpq-reuse-search nice node --import tsx bench/dense-shards.ts ann "$D" "$K" "$TH" ivfpq "$NLIST" "$NPROBE" "$PQM"
T python-ivfpq nice /usr/bin/python3 bench/dense-shards-peer.py ivfpq "$D" "$K" "$TH" "$NLIST" "$NPROBE" "$PQM" "$TRAIN"
[ -n "${JS_EXACT:-}" ] && T exact-js-shards nice node --import tsx bench/dense-shards.ts exact "$D" "$K" "$TH" exact
true
