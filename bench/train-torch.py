"""PyTorch peer of bench/train-throughput.ts: the same BERT bi-encoder step (separate encoders,
DPR in-batch loss with 1 hard negative, AdamW, clipping, dropout on), fixed-length random ids.
Also measures this machine's sgemm rate (torch.mm 2048², same threads) in the same process.
Usage: /usr/bin/python3 bench/train-torch.py --size tiny|base [--batch 16] [--steps 5] [--threads 2]
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--size", default="tiny"); ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--steps", type=int, default=5); ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--qlen", type=int); ap.add_argument("--plen", type=int); ap.add_argument("--sgemm-only", action="store_true")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

def sgemm_rate(n=2048, reps=5):
    x, y = torch.randn(n, n), torch.randn(n, n)
    torch.mm(x, y)
    t = time.perf_counter()
    for _ in range(reps): torch.mm(x, y)
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9

if a.sgemm_only:
    print(json.dumps({"impl": "torch-sgemm", "threads": a.threads, "sgemm_gflops": round(sgemm_rate(), 2)})); raise SystemExit

H, L, NH, I = (128, 2, 2, 512) if a.size == "tiny" else (768, 12, 12, 3072)
qlen = a.qlen or (32 if a.size == "tiny" else 64)
plen = a.plen or (128 if a.size == "tiny" else 256)

class Layer(nn.Module):
    def __init__(s):
        super().__init__()
        s.qkv = nn.ModuleList(nn.Linear(H, H) for _ in range(3)); s.o = nn.Linear(H, H); s.ln1 = nn.LayerNorm(H, eps=1e-12)
        s.i = nn.Linear(H, I); s.out = nn.Linear(I, H); s.ln2 = nn.LayerNorm(H, eps=1e-12); s.drop = nn.Dropout(0.1)
    def forward(s, x):
        B, T, _ = x.shape
        q, k, v = (m(x).view(B, T, NH, H // NH).transpose(1, 2) for m in s.qkv)
        att = s.drop(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(H // NH), -1))
        x = s.ln1(x + s.drop(s.o((att @ v).transpose(1, 2).reshape(B, T, H))))
        return s.ln2(x + s.drop(s.out(F.gelu(s.i(x)))))

class Bert(nn.Module):
    def __init__(s):
        super().__init__()
        s.word = nn.Embedding(30522, H); s.pos = nn.Embedding(512, H); s.typ = nn.Embedding(2, H)
        s.ln = nn.LayerNorm(H, eps=1e-12); s.drop = nn.Dropout(0.1); s.layers = nn.ModuleList(Layer() for _ in range(L))
    def forward(s, ids):
        T = ids.shape[1]
        x = s.drop(s.ln(s.word(ids) + s.pos.weight[:T] + s.typ.weight[0]))
        for l in s.layers: x = l(x)
        return x[:, 0]

qenc, penc = Bert(), Bert()
opt = torch.optim.AdamW(list(qenc.parameters()) + list(penc.parameters()), lr=2e-5, weight_decay=0.0)
B = a.batch
def step():
    qids = torch.randint(1000, 30000, (B, qlen)); pids = torch.randint(1000, 30000, (2 * B, plen))
    q, p = qenc(qids), penc(pids)
    loss = F.cross_entropy(q @ p.T, torch.arange(0, 2 * B, 2))
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(list(qenc.parameters()) + list(penc.parameters()), 2.0)
    opt.step()
def flops(seqs, T):
    return 3 * L * (seqs * T * (8 * H * H + 4 * H * I) + seqs * 4 * T * T * H)
total = flops(B, qlen) + flops(2 * B, plen)
times = []
for s in range(a.steps + 1):
    t = time.perf_counter(); step(); dt = time.perf_counter() - t
    if s > 0 or a.steps == 0: times.append(dt)
times.sort(); sec = times[len(times) // 2]
print(json.dumps({"impl": "torch", "version": torch.__version__, "threads": a.threads, "size": a.size, "batch": B, "qLen": qlen, "pLen": plen,
                  "steps": len(times), "sec_per_step": round(sec, 3), "questions_per_s": round(B / sec, 2),
                  "gflop_per_step": round(total / 1e9, 1), "achieved_gflops": round(total / sec / 1e9, 2), "sgemm_gflops": round(sgemm_rate(), 2)}))
