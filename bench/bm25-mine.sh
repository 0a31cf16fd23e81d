#!/usr/bin/env bash
# Mining throughput on real data: SQuAD v1.1 dev (10,570 questions, ~3.5k passages), depth 100,
# 30 negatives, 1 and 2 threads; checks that both outputs are byte-identical.
# Usage: bench/bm25-mine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
D=.bench-data; mkdir -p "$D"
export DPREP_QUIET=1
T() { /usr/bin/time -f '{"step":"'"$1"'","wallSeconds":%e,"peakRssKB":%M}' "${@:2}"; }
[ -f "$D/squad-dev.dpr.json" ] || node --import tsx bench/bm25-squad-data.ts
echo "{\"date\":\"$(date -u +%FT%TZ)\",\"cpus\":$(nproc),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
T squad-index nice node bin/dprep.js index bm25 --corpus "$D/squad-dev.corpus.jsonl" --out "$D/squad-dev.bm25"
for th in 1 2; do
  T squad-mine-$th nice node bin/dprep.js mine bm25 --examples "$D/squad-dev.dpr.json" --index "$D/squad-dev.bm25" \
    --out "$D/squad-dev.neg-$th.jsonl" --depth 100 --negatives 30 --threads $th
done
cmp "$D/squad-dev.neg-1.jsonl" "$D/squad-dev.neg-2.jsonl" && echo '{"step":"identical-across-threads","ok":true}'
