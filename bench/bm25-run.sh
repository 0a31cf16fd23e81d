#!/usr/bin/env bash
# BM25 benchmark: dprep vs wink-bm25-text-search vs Xapian vs SQLite FTS5 on one generated corpus,
# side by side in one run. Usage: bench/bm25-run.sh N_PASSAGES N_QUERIES [ENGINES]
#   ENGINES: space-separated subset of "dprep fts5 xapian wink" (default: all four)
# Needs: apt-get install -y python3-xapian sqlite3 (Python's sqlite3 module brings FTS5).
# Data goes to .bench-data/ (git-ignored). Prints one JSON line per step with peak RSS (KB).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; Q=${2:-2000}; ENGINES=${3:-dprep fts5 xapian wink}
D=.bench-data; mkdir -p "$D"
export DPREP_QUIET=1
T() { /usr/bin/time -f '{"step":"'"$1"'","wallSeconds":%e,"peakRssKB":%M}' "${@:2}"; }
has() { [[ " $ENGINES " == *" $1 "* ]]; }
[ -f "$D/corpus-$N.jsonl" ] && [ -f "$D/queries-$N-$Q.tsv" ] || nice node --import tsx bench/bm25-bench.ts gen "$N" "$Q" "$D"
C="$D/corpus-$N.jsonl"; QF="$D/queries-$N-$Q.tsv"
echo "{\"corpus\":\"$C\",\"bytes\":$(stat -c %s "$C"),\"queries\":$Q,\"date\":\"$(date -u +%FT%TZ)\",\"cpus\":$(nproc),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
if has dprep; then
  T dprep-index nice node bin/dprep.js index bm25 --corpus "$C" --out "$D/dprep-$N.bm25" --lang none
  du -sk "$D/dprep-$N.bm25" | awk '{print "{\"step\":\"dprep-index-size\",\"kB\":"$1"}"}'
  for th in 1 2; do T dprep-query-$th nice node --import tsx bench/bm25-bench.ts query "$D/dprep-$N.bm25" "$QF" 100 $th; done
fi
if has xapian; then
  T xapian-index nice /usr/bin/python3 bench/bm25-peers.py xapian build "$C" "$D/xapian-$N.db"
  T xapian-query nice /usr/bin/python3 bench/bm25-peers.py xapian query "$D/xapian-$N.db" "$QF" 100
fi
if has fts5; then
  T fts5-index nice /usr/bin/python3 bench/bm25-peers.py fts5 build "$C" "$D/fts5-$N.db"
  # FTS5 OR queries are slow on common terms: time the first FTS5_QUERIES (default 500) only.
  T fts5-query nice /usr/bin/python3 bench/bm25-peers.py fts5 query "$D/fts5-$N.db" "$QF" 100 "${FTS5_QUERIES:-500}"
fi
if has wink; then T wink nice node --import tsx bench/bm25-bench.ts wink "$C" "$QF" 100; fi
