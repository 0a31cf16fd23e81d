"""PyTorch peer of bench/train-throughput.ts and bench/family-throughput.ts: the same bi-encoder step
(separate encoders, DPR in-batch loss with 1 hard negative, AdamW, clipping at 2.0, dropout on),
fixed-length random ids, in plain torch (transformers is not needed). Families at one shape
(--family; `all` interleaves bert, roberta, distilbert and t5 step by step in one process):
  bert        word 30522 + position 512 + token type 2, LayerNorm, post-norm layers, GELU
  roberta     the same computation over word 50265, positions 514 read from pad_token_id + 1 = 2, 1 type
  distilbert  word 30522 + position 512 (no types); no dropout after the attention output (HF's layout)
  t5          shared 32128 (no positions), pre-norm RMSNorm, no biases, unscaled attention plus a
              32-bucket relative position bias (max distance 128) from block 0, ReLU FFN, final RMSNorm
Also measures this machine's sgemm rate (torch.mm 2048², same threads) in the same process.
Usage: /usr/bin/python3 bench/train-torch.py --size tiny|base [--family bert|roberta|distilbert|t5|all] [--batch 16] [--steps 5] [--threads 2]
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--size", default="tiny"); ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--steps", type=int, default=5); ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--family", default="bert", choices=["bert", "roberta", "distilbert", "t5", "all"])
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
VOCAB = {"bert": 30522, "roberta": 50265, "distilbert": 30522, "t5": 32128}

class Layer(nn.Module):
    """BERT / RoBERTa / DistilBERT layer (post-norm); DistilBERT has no dropout after the attention output."""
    def __init__(s, attn_out_dropout=True):
        super().__init__()
        s.qkv = nn.ModuleList(nn.Linear(H, H) for _ in range(3)); s.o = nn.Linear(H, H); s.ln1 = nn.LayerNorm(H, eps=1e-12)
        s.i = nn.Linear(H, I); s.out = nn.Linear(I, H); s.ln2 = nn.LayerNorm(H, eps=1e-12); s.drop = nn.Dropout(0.1)
        s.attn_out_dropout = attn_out_dropout
    def forward(s, x):
        B, T, _ = x.shape
        q, k, v = (m(x).view(B, T, NH, H // NH).transpose(1, 2) for m in s.qkv)  # [B, NH, T, H/NH]
        att = s.drop(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(H // NH), -1))  # [B, NH, T, T]
        a = s.o((att @ v).transpose(1, 2).reshape(B, T, H))  # [B, T, H]
        x = s.ln1(x + (s.drop(a) if s.attn_out_dropout else a))  # [B, T, H]
        return s.ln2(x + s.drop(s.out(F.gelu(s.i(x)))))  # [B, T, H]

class Bert(nn.Module):
    """BERT, or RoBERTa (positions from pad + 1 = 2 for unpadded ids, 1 token type), or DistilBERT (no types)."""
    def __init__(s, family="bert"):
        super().__init__()
        s.family = family
        s.word = nn.Embedding(VOCAB[family], H); s.pos = nn.Embedding(514 if family == "roberta" else 512, H)
        s.typ = nn.Embedding(1 if family == "roberta" else 2, H) if family != "distilbert" else None
        s.ln = nn.LayerNorm(H, eps=1e-12); s.drop = nn.Dropout(0.1)
        s.layers = nn.ModuleList(Layer(attn_out_dropout=family != "distilbert") for _ in range(L))
    def forward(s, ids):
        T = ids.shape[1]
        off = 2 if s.family == "roberta" else 0
        x = s.word(ids) + s.pos.weight[off:off + T]  # [B, T, H]
        if s.typ is not None: x = x + s.typ.weight[0]
        x = s.drop(s.ln(x))
        for l in s.layers: x = l(x)
        return x[:, 0]  # [B, H]

class RMSNorm(nn.Module):
    def __init__(s):
        super().__init__(); s.w = nn.Parameter(torch.ones(H))
    def forward(s, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * s.w

def t5_buckets(T, nb=32, max_dist=128):
    """Bidirectional relative position bucket of key − query position (T5's scheme), [T, T]."""
    rel = torch.arange(T)[None, :] - torch.arange(T)[:, None]
    half = nb // 2; exact = half // 2
    base = (rel > 0).long() * half; n = rel.abs()
    large = exact + (torch.log(n.float().clamp(min=1) / exact) / math.log(max_dist / exact) * (half - exact)).long()
    return base + torch.where(n < exact, n, large.clamp(max=half - 1))

class T5Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.n1 = RMSNorm(); s.qkv = nn.ModuleList(nn.Linear(H, H, bias=False) for _ in range(3)); s.o = nn.Linear(H, H, bias=False)
        s.n2 = RMSNorm(); s.wi = nn.Linear(H, I, bias=False); s.wo = nn.Linear(I, H, bias=False); s.drop = nn.Dropout(0.1)
    def forward(s, x, bias):
        B, T, _ = x.shape
        h = s.n1(x)
        q, k, v = (m(h).view(B, T, NH, H // NH).transpose(1, 2) for m in s.qkv)  # [B, NH, T, d_kv]
        att = s.drop(torch.softmax(q @ k.transpose(-1, -2) + bias, -1))  # [B, NH, T, T], no 1/√d
        x = x + s.drop(s.o((att @ v).transpose(1, 2).reshape(B, T, H)))  # [B, T, H]
        return x + s.drop(s.wo(s.drop(F.relu(s.wi(s.n2(x))))))  # [B, T, H]

class T5Encoder(nn.Module):
    def __init__(s):
        super().__init__()
        s.shared = nn.Embedding(VOCAB["t5"], H); s.rel = nn.Embedding(32, NH); s.drop = nn.Dropout(0.1)
        s.blocks = nn.ModuleList(T5Block() for _ in range(L)); s.final = RMSNorm(); s.buckets = {}
    def forward(s, ids):
        T = ids.shape[1]
        if T not in s.buckets: s.buckets[T] = t5_buckets(T)
        bias = s.rel(s.buckets[T]).permute(2, 0, 1)[None]  # [1, NH, T, T], shared by every block
        x = s.drop(s.shared(ids))  # [B, T, H]
        for b in s.blocks: x = b(x, bias)
        return s.drop(s.final(x))[:, 0]  # [B, H]

def make(family):
    return T5Encoder() if family == "t5" else Bert(family)

def flops(seqs, T):
    # per layer and token: q/k/v/o 2·4·H·H, FFN 2·2·H·I, scores + context 2·2·T·H; × 3 for forward + backward
    # (T5 here: d_kv·heads = H and a ReLU FFN, so the same count)
    return 3 * L * (seqs * T * (8 * H * H + 4 * H * I) + seqs * 4 * T * T * H)

B = a.batch
total = flops(B, qlen) + flops(2 * B, plen)
families = ["bert", "roberta", "distilbert", "t5"] if a.family == "all" else [a.family]
runs = []
for fam in families:
    qenc, penc = make(fam), make(fam)
    params = list(qenc.parameters()) + list(penc.parameters())
    runs.append({"family": fam, "q": qenc, "p": penc, "params": params, "opt": torch.optim.AdamW(params, lr=2e-5, weight_decay=0.0), "times": []})

def step(r):
    qids = torch.randint(1000, 30000, (B, qlen)); pids = torch.randint(1000, 30000, (2 * B, plen))
    q, p = r["q"](qids), r["p"](pids)  # [B, H], [2B, H]
    loss = F.cross_entropy(q @ p.T, torch.arange(0, 2 * B, 2))
    r["opt"].zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(r["params"], 2.0)
    r["opt"].step()

# step 0 of each family is its warm-up; families interleave step by step
for s in range(a.steps + 1):
    for r in runs:
        t = time.perf_counter(); step(r); dt = time.perf_counter() - t
        if s > 0 or a.steps == 0: r["times"].append(dt)
med = lambda t: sorted(t)[len(t) // 2]
sgemm = round(sgemm_rate(), 2)
for r in runs:
    sec = med(r["times"])
    row = {"impl": "torch", "version": torch.__version__, "threads": a.threads, "size": a.size, "batch": B, "qLen": qlen, "pLen": plen,
           "steps": len(r["times"]), "sec_per_step": round(sec, 4), "questions_per_s": round(B / sec, 2),
           "gflop_per_step": round(total / 1e9, 3), "achieved_gflops": round(total / sec / 1e9, 2), "sgemm_gflops": sgemm}
    if a.family != "bert": row = {"family": r["family"], "vocab": VOCAB[r["family"]], **row, "per_flop_vs_bert": round(sec / med(runs[0]["times"]), 3) if a.family == "all" else None}
    print(json.dumps(row))
