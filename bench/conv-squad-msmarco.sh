#!/usr/bin/env bash
# MS MARCO conversion: dprep vs a plain-Python peer doing the same join in the same run.
# Generates a synthetic collection in the real layout (pid<TAB>passage), queries, qrels (TREC) and
# a negatives file (qid<TAB>pid,...), then runs both converters (records + JSONL corpus) and reports
# wall time, collection MB/s and peak RSS of each.
# Usage: nice bench/conv-squad-msmarco.sh [passages=1000000] [queries=50000] [negatives=10]
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-1000000}; Q=${2:-50000}; N=${3:-10}
W=$(mktemp -d /tmp/dprep-bench-marco.XXXX)
trap 'rm -rf "$W"' EXIT
python3 - "$W" "$P" "$Q" "$N" <<'PY'
import random, sys
w, P, Q, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(7)
vocab = [f"term{i}" for i in range(30000)]
with open(f"{w}/collection.tsv", "w") as f:
    for pid in range(P):
        f.write(f"{pid}\t" + " ".join(rng.choice(vocab) for _ in range(55)) + "\n")
with open(f"{w}/queries.tsv", "w") as fq, open(f"{w}/qrels.txt", "w") as fr, open(f"{w}/negatives.tsv", "w") as fn:
    for q in range(Q):
        fq.write(f"{q}\twhat is " + " ".join(rng.choice(vocab) for _ in range(6)) + "\n")
        fr.write(f"{q} 0 {rng.randrange(P)} 1\n")
        fn.write(f"{q}\t" + ",".join(str(rng.randrange(P)) for _ in range(N)) + "\n")
PY
cat > "$W/peer.py" <<'PY'
# Peer: the straightforward Python job: dicts for qrels/negatives, stream the collection keeping
# needed texts, write the corpus as JSONL while streaming, then one JSON line per query.
import json, sys
w = sys.argv[1]
pos, neg, queries = {}, {}, {}
for line in open(f"{w}/qrels.txt"):
    qid, _, pid, rel = line.split()
    if int(rel) > 0: pos.setdefault(qid, []).append(pid)
for line in open(f"{w}/queries.tsv", encoding="utf-8"):
    qid, text = line.rstrip("\n").split("\t", 1)
    if qid in pos: queries[qid] = text.strip()
for line in open(f"{w}/negatives.tsv"):
    qid, pids = line.rstrip("\n").split("\t")
    if qid in queries: neg[qid] = [p for p in pids.split(",") if p not in pos[qid]][:30]
need = {p for v in pos.values() for p in v} | {p for v in neg.values() for p in v}
texts = {}
with open(f"{w}/peer.corpus.jsonl", "w", encoding="utf-8") as out:
    for line in open(f"{w}/collection.tsv", encoding="utf-8"):
        pid, text = line.rstrip("\n").split("\t", 1)
        out.write(json.dumps({"passage_id": pid, "title": "", "text": text}) + "\n")
        if pid in need: texts[pid] = text
ctx = lambda p: {"title": "", "text": texts[p], "passage_id": p}
with open(f"{w}/peer.records.jsonl", "w", encoding="utf-8") as out:
    for qid, q in queries.items():
        out.write(json.dumps({"dataset": "msmarco", "question": q, "answers": [],
            "positive_ctxs": [ctx(p) for p in pos[qid] if p in texts], "negative_ctxs": [],
            "hard_negative_ctxs": [ctx(p) for p in neg[qid] if p in texts], "id": qid}) + "\n")
PY
MB=$(python3 -c "import os;print(os.path.getsize('$W/collection.tsv')/1e6)")
echo "collection: $P passages, ${MB} MB; $Q queries, $N negatives each"
run() { # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/time.$name" "$@" > /dev/null 2>"$W/err.$name" || { cat "$W/err.$name"; exit 1; }
  read -r secs kb < "$W/time.$name"
  python3 -c "print(f'$name: {float($secs):.1f} s, {float($MB)/float($secs):.1f} MB/s, peak RSS {int($kb)/1024:.0f} MB')"
}
DPREP_QUIET=1 run dprep node bin/dprep.js convert msmarco --collection "$W/collection.tsv" --queries "$W/queries.tsv" \
  --qrels "$W/qrels.txt" --negatives "$W/negatives.tsv" --out "$W/dprep.records.jsonl" --corpus "$W/dprep.corpus.jsonl"
run python python3 "$W/peer.py" "$W"
echo "records: dprep $(wc -l < "$W/dprep.records.jsonl"), python $(wc -l < "$W/peer.records.jsonl")"
