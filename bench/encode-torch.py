"""PyTorch peer of bench/encode-throughput.ts: the same BERT encoder shape (random weights), eval mode
under torch.no_grad, on the token ids dprep's tokenizer gave (--ids, one JSON array per passage,
`[CLS] title [SEP] text [SEP]` truncated at 256), batches padded to their longest member with an
attention mask, CLS pooling. --order corpus: batches in corpus order; sorted: each window of 1024
passages sorted by length first (what dprep encode does). Prints passages/s, useful GFLOP/s (real
tokens only, the formula of encode-throughput.ts) and this machine's sgemm rate (torch.mm 1024²)
measured in the same process.
Usage: /usr/bin/python3 bench/encode-torch.py --ids ids.jsonl --size tiny|base [--batch 64] [--threads 2] [--order sorted]
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--ids", required=True); ap.add_argument("--size", default="tiny"); ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--threads", type=int, default=2); ap.add_argument("--order", default="sorted", choices=["corpus", "sorted"])
ap.add_argument("--window", type=int, default=1024)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
H, L, NH, I = (128, 2, 2, 512) if a.size == "tiny" else (768, 12, 12, 3072)

def sgemm_rate(n=1024, reps=5):
    x, y = torch.randn(n, n), torch.randn(n, n)
    torch.mm(x, y)
    t = time.perf_counter()
    for _ in range(reps): torch.mm(x, y)
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9

class Layer(nn.Module):
    def __init__(s):
        super().__init__()
        s.q, s.k, s.v, s.o = (nn.Linear(H, H) for _ in range(4)); s.ln1 = nn.LayerNorm(H, eps=1e-12)
        s.i = nn.Linear(H, I); s.out = nn.Linear(I, H); s.ln2 = nn.LayerNorm(H, eps=1e-12)
    def forward(s, x, bias):
        B, T, _ = x.shape
        q, k, v = (m(x).view(B, T, NH, H // NH).transpose(1, 2) for m in (s.q, s.k, s.v))  # [B, NH, T, dh]
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(H // NH) + bias, -1)  # [B, NH, T, T]
        x = s.ln1(x + s.o((att @ v).transpose(1, 2).reshape(B, T, H)))  # [B, T, H]
        return s.ln2(x + s.out(F.gelu(s.i(x))))  # [B, T, H]

class Bert(nn.Module):
    def __init__(s):
        super().__init__()
        s.word = nn.Embedding(30522, H); s.pos = nn.Embedding(512, H); s.typ = nn.Embedding(2, H); s.ln = nn.LayerNorm(H, eps=1e-12)
        s.layers = nn.ModuleList(Layer() for _ in range(L))
    def forward(s, ids, types, mask):
        T = ids.shape[1]
        x = s.ln(s.word(ids) + s.pos.weight[:T] + s.typ(types))  # [B, T, H]
        bias = (1.0 - mask[:, None, None, :].float()) * -1e9  # [B, 1, 1, T]: padding keys get weight 0
        for l in s.layers: x = l(x, bias)
        return x[:, 0]  # [B, H]

seqs = [json.loads(line) for line in open(a.ids)]
sgemm = sgemm_rate()
model = Bert().eval()
# Batches: windows of --window sorted by length (ties in corpus order), or corpus order.
order = []
for w in range(0, len(seqs), a.window):
    idx = list(range(w, min(w + a.window, len(seqs))))
    order += sorted(idx, key=lambda i: (len(seqs[i]), i)) if a.order == "sorted" else idx
batches = [order[s:s + a.batch] for s in range(0, len(order), a.batch)]
SEP = 102
def tensors(rows):
    T = max(len(seqs[r]) for r in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long); types = torch.zeros_like(ids); mask = torch.zeros_like(ids)
    for j, r in enumerate(rows):
        s = seqs[r]; ids[j, :len(s)] = torch.tensor(s); mask[j, :len(s)] = 1
        first_sep = s.index(SEP) if SEP in s else len(s)
        types[j, first_sep + 1:len(s)] = 1
    return ids, types, mask
prepared = [tensors(b) for b in batches]
with torch.no_grad():
    model(*prepared[0])  # warm-up
    t = time.perf_counter()
    for b in prepared: model(*b)
    seconds = time.perf_counter() - t
tokens = sum(len(s) for s in seqs); padded = sum(len(b) * max(len(seqs[r]) for r in b) for b in batches)
flops = sum(L * (n * (8 * H * H + 4 * H * I) + 4 * n * n * H) for n in map(len, seqs))
print(json.dumps({"impl": "torch", "torch": torch.__version__, "threads": a.threads, "order": a.order, "hidden": H, "layers": L, "passages": len(seqs), "batch": a.batch,
                  "seconds": round(seconds, 2), "passages_per_s": round(len(seqs) / seconds, 2), "useful_gflops": round(flops / seconds / 1e9, 2),
                  "padding": round(1 - tokens / padded, 4), "sgemm_gflops": round(sgemm, 2)}))
