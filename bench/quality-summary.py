#!/usr/bin/env python3
"""Tables bench/quality.sh's runs: each row's mean over the seeds (workdirs given) ± the spread
(half the max-min range), then the two targets of issue 12 checked on the means, and per seed."""
import json
import sys

dirs = sys.argv[1:]
runs = [json.load(open(f"{d}/report.json")) for d in dirs]
metrics = [m for m in runs[0]["metrics"] if m.startswith("top@") or m.startswith("mrr@")]
labels = [r["label"] for r in runs[0]["runs"]]
vals = {lab: {m: [] for m in metrics} for lab in labels}
for rep in runs:
    for r in rep["runs"]:
        for m in metrics:
            vals[r["label"]][m].append(r["metrics"][m])
queries = [r["metrics"].get("queries") for r in runs[0]["runs"]]


def cell(xs):
    mean = sum(xs) / len(xs)
    return mean, f"{mean:.3f} ± {(max(xs) - min(xs)) / 2:.3f}"


print(f"\n{len(dirs)} seeds; held-out questions per seed: {queries[0]}; cells: mean ± half the min–max range\n")
print("| run | " + " | ".join(metrics) + " |")
print("|---|" + "---:|" * len(metrics))
means = {}
for lab in labels:
    row = []
    for m in metrics:
        mean, text = cell(vals[lab][m])
        means[(lab, m)] = mean
        row.append(text)
    print(f"| {lab} | " + " | ".join(row) + " |")

print("\nper seed, top@20: " + "; ".join(f"{lab}: " + ", ".join(f"{x:.3f}" for x in vals[lab]["top@20"]) for lab in labels))
s1, s2 = "stage 1 mask on", "stage 2 mask on"
if (s2, "top@20") in means:
    d = means[(s2, "top@20")] - means[(s1, "top@20")]
    wins = sum(b > a for a, b in zip(vals[s1]["top@20"], vals[s2]["top@20"]))
    print(f"\ntarget 1: stage 2 (mask on) vs stage 1 (mask on), held-out top@20: {d:+.3f} (mean), stage 2 higher in {wins} of {len(dirs)} seeds")
    for stage in ("stage 1", "stage 2"):
        diffs = {m: means[(f"{stage} mask on", m)] - means[(f"{stage} mask off", m)] for m in metrics}
        print(f"target 2: {stage}, mask on − off: " + ", ".join(f"{m} {v:+.3f}" for m, v in diffs.items()))
