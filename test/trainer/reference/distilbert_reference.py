"""Independent PyTorch reference for DistilBERT encoders (golden fixture generator).

Written from the published DistilBERT architecture (Sanh et al. 2019) and HF DistilBertModel's
tensor names, not from dprep's TypeScript: word + learned position embeddings (no token types) ->
LayerNorm(eps 1e-12) -> layers of [multi-head self-attention (q_lin, k_lin, v_lin, queries scaled
by 1/sqrt(d_head), padding keys masked), out_lin, residual + sa_layer_norm, ffn.lin1 -> GELU ->
ffn.lin2, residual + output_layer_norm]. Weights are random (seeded), saved `distilbert.`-prefixed
as DistilBertForMaskedLM saves them, with one of its head tensors (vocab_transform) that a loader
must ignore. Vocabulary: bert-base-uncased's 30,522 (the real WordPiece tokenizer's ids, from
tokenize_ids.mjs), dim 8, so the fixture stays near 1 MB.

Run once:  /usr/bin/python3 test/trainer/reference/distilbert_reference.py fixtures/trainer/parity-distilbert
"""
import json, math, os, struct, sys
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else "fixtures/trainer/parity-distilbert"
torch.manual_seed(20261204)
cfg = dict(vocab_size=30522, dim=8, n_layers=2, n_heads=2, hidden_dim=16, activation="gelu", dropout=0.1,
           attention_dropout=0.1, max_position_embeddings=32, initializer_range=0.02, pad_token_id=0,
           sinusoidal_pos_embds=False, qa_dropout=0.1, seq_classif_dropout=0.2, tie_weights_=True,
           model_type="distilbert", architectures=["DistilBertForMaskedLM"])
D, F, NL, NH = 8, 16, 2, 2
rnd = lambda *s, std=0.5: (torch.randn(*s) * std).float()
W = {
    "embeddings.word_embeddings.weight": rnd(cfg["vocab_size"], D),
    "embeddings.position_embeddings.weight": rnd(cfg["max_position_embeddings"], D),
    "embeddings.LayerNorm.weight": 1 + rnd(D, std=0.1),
    "embeddings.LayerNorm.bias": rnd(D, std=0.1),
}
for l in range(NL):
    p = f"transformer.layer.{l}."
    for n in ["q_lin", "k_lin", "v_lin", "out_lin"]:
        W[p + "attention." + n + ".weight"] = rnd(D, D, std=0.4)
        W[p + "attention." + n + ".bias"] = rnd(D, std=0.1)
    for n in ["sa_layer_norm", "output_layer_norm"]:
        W[p + n + ".weight"] = 1 + rnd(D, std=0.1)
        W[p + n + ".bias"] = rnd(D, std=0.1)
    W[p + "ffn.lin1.weight"] = rnd(F, D, std=0.4)
    W[p + "ffn.lin1.bias"] = rnd(F, std=0.1)
    W[p + "ffn.lin2.weight"] = rnd(D, F, std=0.4)
    W[p + "ffn.lin2.bias"] = rnd(D, std=0.1)


def ln(x, n):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-12) * W[n + ".weight"] + W[n + ".bias"]


lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]
gelu = lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))

# bert-base-uncased: "Hello world", "Dense passage retrieval finds answers.", "Paris is the capital of France."
seqs = [[101, 7592, 2088, 102], [101, 9742, 6019, 26384, 4858, 6998, 1012, 102], [101, 3000, 2003, 1996, 3007, 1997, 2605, 1012, 102]]
T = max(len(s) for s in seqs)
ids = torch.tensor([s + [0] * (T - len(s)) for s in seqs])
mask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in seqs])
with torch.no_grad():
    B, dh = ids.shape[0], D // NH
    x = ln(W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][torch.arange(T)][None], "embeddings.LayerNorm")
    split = lambda t: t.view(B, T, NH, dh).transpose(1, 2)
    for l in range(NL):
        p = f"transformer.layer.{l}."
        q = split(lin(x, p + "attention.q_lin")) / math.sqrt(dh)
        k, v = split(lin(x, p + "attention.k_lin")), split(lin(x, p + "attention.v_lin"))
        s = (q @ k.transpose(2, 3)).masked_fill(mask[:, None, None, :] == 0, torch.finfo(torch.float32).min)
        ctx = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
        x = ln(lin(ctx, p + "attention.out_lin") + x, p + "sa_layer_norm")
        x = ln(lin(gelu(lin(x, p + "ffn.lin1")), p + "ffn.lin2") + x, p + "output_layer_norm")
    mean = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        b = tensors[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


os.makedirs(OUT, exist_ok=True)
saved = {"distilbert." + k: v for k, v in W.items()}
saved["vocab_transform.weight"] = rnd(D, D)
write_safetensors(os.path.join(OUT, "model.safetensors"), saved)
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"torch": torch.__version__, "ids": ids.tolist(), "mask": mask.tolist(), "sequence_output": x.tolist(),
               "cls": x[:, 0].tolist(), "mean": mean.tolist()}, f)
print("wrote", OUT, tuple(x.shape))
