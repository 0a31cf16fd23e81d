#!/usr/bin/env bash
# The IVF-PQ rerun of bench/dense-shards.sh at 8.8M rows (BENCHMARKS.md, "IVF-PQ at 8.8M rows"): its steps
# without the Python exact step, which the 2026-12-02 loaded run measured. Usage: bench/dense-shards-ivfpq-rerun.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=8800000; DIM=64; SR=500000; NQ=200; K=100; NLIST=2048; NPROBE=32; PQM=16; TH=1
D=.bench-data/dense-$N-$DIM
export DPREP_QUIET=1 OMP_WAIT_POLICY=PASSIVE
T() { /usr/bin/time -f '{"step":"'"$1"'","wallSeconds":%e,"peakRssKB":%M}' "${@:2}"; }
echo "{\"date\":\"$(date -u +%FT%TZ)\",\"cpus\":$(nproc),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"n\":$N,\"dim\":$DIM,\"shardRows\":$SR}"
[ -f "$D/manifest.json" ] && grep -q '"complete": true' "$D/manifest.json" || T gen nice node --import tsx bench/dense-shards.ts gen "$D" "$N" "$DIM" "$SR" "$NQ"
T exact-faiss-shards nice node --import tsx bench/dense-shards.ts exact "$D" "$K" "$TH" faiss
TRAIN=$((NLIST*39)); [ $TRAIN -lt 9984 ] && TRAIN=9984
rm -f "$D"/ann-ivfpq-*
echo "{\"at\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
T ivfpq-build-search nice node --import tsx bench/dense-shards.ts ann "$D" "$K" "$TH" ivfpq "$NLIST" "$NPROBE" "$PQM"
T ivfpq-reuse-search nice node --import tsx bench/dense-shards.ts ann "$D" "$K" "$TH" ivfpq "$NLIST" "$NPROBE" "$PQM"
echo "{\"at\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
T python-ivfpq nice /usr/bin/python3 bench/dense-shards-peer.py ivfpq "$D" "$K" "$TH" "$NLIST" "$NPROBE" "$PQM" "$TRAIN"
echo "{\"end\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
