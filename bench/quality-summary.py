#!/usr/bin/env python3
"""Tables bench/quality.sh's runs: each row's mean over the seeds (the workdirs given) ± the spread
(half the min–max range), from each workdir's eval/*.metrics.json, so a run stopped part-way shows
the rows it finished, with how many seeds each has; then issue 12's two targets, on the seeds that
have both rows compared."""
import json
import os
import sys

ROWS = [("BM25", "bm25"), ("stage 1 mask off", "stage1-nomask"), ("stage 1 mask on", "stage1-mask"),
        ("stage 2 mask off", "stage2-nomask"), ("stage 2 mask on", "stage2-mask")]
METRICS = ["top@1", "top@5", "top@20", "top@100", "mrr@10"]
dirs = sys.argv[1:]
vals = {}  # (label, seed dir) -> metrics
queries = set()
for d in dirs:
    for label, name in ROWS:
        f = os.path.join(d, "eval", f"{name}.metrics.json")
        if os.path.exists(f):
            m = json.load(open(f))
            vals[(label, d)] = m
            queries.add(m.get("queries"))


def spread(xs):
    mean = sum(xs) / len(xs)
    return f"{mean:.3f} ± {(max(xs) - min(xs)) / 2:.3f}" if len(xs) > 1 else f"{mean:.3f}"


print(f"\nworkdirs: {', '.join(dirs)}; held-out questions per seed: {sorted(q for q in queries if q)}")
print("cells: mean ± half the min–max range over the seeds that finished the row (n)\n")
print("| run | n | " + " | ".join(METRICS) + " |")
print("|---|---:|" + "---:|" * len(METRICS))
for label, _ in ROWS:
    have = [d for d in dirs if (label, d) in vals]
    if not have:
        print(f"| {label} | 0 |" + " – |" * len(METRICS))
        continue
    print(f"| {label} | {len(have)} | " + " | ".join(spread([vals[(label, d)][m] for d in have]) for m in METRICS) + " |")


def compare(a, b, what):
    both = [d for d in dirs if (a, d) in vals and (b, d) in vals]
    if not both:
        print(f"{what}: not measured (no seed has both rows)")
        return
    diffs = {m: [vals[(b, d)][m] - vals[(a, d)][m] for d in both] for m in METRICS}
    print(f"{what} ({len(both)} seed(s)): " + ", ".join(f"{m} {sum(v) / len(v):+.3f} [{', '.join(f'{x:+.3f}' for x in v)}]" for m, v in diffs.items()))


print()
compare("stage 1 mask on", "stage 2 mask on", "target 1, stage 2 − stage 1 (mask on)")
compare("stage 1 mask off", "stage 2 mask off", "for reference, stage 2 − stage 1 (mask off)")
compare("stage 1 mask off", "stage 1 mask on", "target 2, mask on − off, stage 1")
compare("stage 2 mask off", "stage 2 mask on", "target 2, mask on − off, stage 2")
