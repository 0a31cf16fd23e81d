"""Summary of bench/family-bench.sh's JSON lines: per side (dprep replicas, PyTorch per thread count)
and family, the median over rounds of questions/s, GFLOP/s and per-FLOP cost relative to BERT (each
round's ratio comes from families interleaved in one process), with min–max over the rounds, and the
verdict against the 1.2× target. PyTorch's "best" thread count is the one with the higher median BERT q/s.
Usage: /usr/bin/python3 bench/family-summary.py LOG.jsonl
"""
import json, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
loads = [f"r{r['round']} {r['at']} {r['loadavg']}" for r in rows if r["impl"] == "load"]
sgemm = [r["sgemm_gflops"] for r in rows if r["impl"] == "torch-sgemm"]
by = defaultdict(list)
for r in rows:
    if r["impl"] == "dprep": by[("dprep", f"{r['workers']} replicas", r["family"])].append(r)
    elif r["impl"] == "torch" and "family" in r: by[("torch", f"{r['threads']} thread(s)", r["family"])].append(r)
med = statistics.median
span = lambda xs: f"{min(xs):.2f}–{max(xs):.2f}"
print("load average (1/5/15 min):", "; ".join(loads))
print("sgemm GFLOP/s (torch.mm 2048², 2 threads), per round:", ", ".join(f"{s:.1f}" for s in sgemm))
best = max((k for k in by if k[0] == "torch" and k[2] == "bert"), key=lambda k: med(r["questions_per_s"] for r in by[k]), default=None)
print(f"{'side':<28}{'family':<12}{'q/s':>8} {'(min–max)':<14}{'GFLOP/s':>8}  {'per FLOP vs BERT':<24}verdict (≤ 1.2×)")
for key in sorted(by, key=lambda k: (k[0] != "dprep", k[1], ["bert", "roberta", "distilbert", "t5"].index(k[2]))):
    rs = by[key]
    qs = [r["questions_per_s"] for r in rs]; gf = [r["achieved_gflops"] for r in rs]; ratio = [r["per_flop_vs_bert"] for r in rs]
    side = f"{key[0]} {key[1]}" + (" (best)" if best and key[:2] == best[:2] else "")
    # the target is dprep's; PyTorch's ratios show what the same shapes cost there
    verdict = "" if key[2] == "bert" or key[0] != "dprep" else ("met" if med(ratio) <= 1.2 else "MISSED")
    print(f"{side:<28}{key[2]:<12}{med(qs):>8.2f} {span(qs):<14}{med(gf):>8.2f}  {med(ratio):.2f} ({span(ratio)}){'':<9}{verdict}  [{len(rs)} rounds]")
