#!/usr/bin/env bash
# BM25 on real text at scale (issue 14): N passages recombined from real sentences of ../shared/data
# (bench/bm25-real-data.ts says exactly how), Q real questions; dprep vs Xapian on identical terms.
# Usage: bench/bm25-real.sh N Q [ENGINES]   (ENGINES: "dprep xapian", the default)
# Needs: apt-get install -y python3-xapian. Data in .bench-data/ (git-ignored). One JSON line per step.
# XAPIAN_FLUSH_THRESHOLD (documents buffered per flush; Xapian's default is 10000) reaches the peer.
set -euo pipefail
cd "$(dirname "$0")/.."
N=$1; Q=${2:-2000}; ENGINES=${3:-dprep xapian}
D=.bench-data; mkdir -p "$D"
export DPREP_QUIET=1
T() { /usr/bin/time -f '{"step":"'"$1"'","wallSeconds":%e,"peakRssKB":%M}' "${@:2}"; }
has() { [[ " $ENGINES " == *" $1 "* ]]; }
C="$D/real-$N.jsonl"; QF="$D/real-queries-$Q.tsv"
[ -f "$C" ] && [ -f "$QF" ] || T gen nice node --import tsx bench/bm25-real-data.ts "$N" "$Q" "$D"
echo "{\"corpus\":\"$C\",\"bytes\":$(stat -c %s "$C"),\"queries\":$Q,\"date\":\"$(date -u +%FT%TZ)\",\"cpus\":$(nproc),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"memAvailableKB\":$(awk '/MemAvailable/{print $2}' /proc/meminfo)}"
if has dprep; then
  rm -rf "$D/real-dprep-$N.bm25"
  T dprep-index nice node bin/dprep.js index bm25 --corpus "$C" --out "$D/real-dprep-$N.bm25" --lang none
  du -sk "$D/real-dprep-$N.bm25" | awk '{print "{\"step\":\"dprep-index-size\",\"kB\":"$1"}"}'
  for th in 1 2; do T dprep-query-$th nice node --import tsx bench/bm25-bench.ts query "$D/real-dprep-$N.bm25" "$QF" 100 $th; done
fi
if has xapian; then
  T xapian-index nice /usr/bin/python3 bench/bm25-peers.py xapian build "$C" "$D/real-xapian-$N.db"
  du -sk "$D/real-xapian-$N.db" | awk '{print "{\"step\":\"xapian-index-size\",\"kB\":"$1"}"}'
  T xapian-query nice /usr/bin/python3 bench/bm25-peers.py xapian query "$D/real-xapian-$N.db" "$QF" 100
fi
