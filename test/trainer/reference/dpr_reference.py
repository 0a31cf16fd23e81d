"""Independent PyTorch reference for DPR encoders with a projection layer (golden fixture generator).

Written from DPR (Karpukhin et al. 2020) and HF DPRQuestionEncoder / DPRContextEncoder's tensor
names, not from dprep's TypeScript: a BERT encoder without pooler (`<encoder>.bert_model.*`;
embeddings -> LayerNorm -> post-norm layers with exact erf GELU) whose first-token vector goes
through `<encoder>.encode_proj` (Linear hidden -> projection_dim). One safetensors file holds both
encoders (question_encoder.* and ctx_encoder.*, different weights), as a DPR bi-encoder dump does;
the loader picks one by role. Expected per role: sequence output, first-token and mean vectors,
each after the projection. Vocabulary bert-base-uncased's 30,522 (real ids), hidden 8, projection 4.

Run once:  /usr/bin/python3 test/trainer/reference/dpr_reference.py fixtures/trainer/parity-dpr
"""
import json, math, os, struct, sys
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else "fixtures/trainer/parity-dpr"
torch.manual_seed(20261205)
cfg = dict(vocab_size=30522, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
           hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=32,
           type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0,
           position_embedding_type="absolute", projection_dim=4, model_type="dpr", architectures=["DPRQuestionEncoder"])
H, I, NL, NH, P = 8, 16, 2, 2, 4
rnd = lambda *s, std=0.5: (torch.randn(*s) * std).float()


def weights():
    W = {
        "embeddings.word_embeddings.weight": rnd(cfg["vocab_size"], H),
        "embeddings.position_embeddings.weight": rnd(cfg["max_position_embeddings"], H),
        "embeddings.token_type_embeddings.weight": rnd(2, H),
        "embeddings.LayerNorm.weight": 1 + rnd(H, std=0.1),
        "embeddings.LayerNorm.bias": rnd(H, std=0.1),
    }
    for l in range(NL):
        p = f"encoder.layer.{l}."
        for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            W[p + n + ".weight"] = rnd(H, H, std=0.4)
            W[p + n + ".bias"] = rnd(H, std=0.1)
        for n in ["attention.output.LayerNorm", "output.LayerNorm"]:
            W[p + n + ".weight"] = 1 + rnd(H, std=0.1)
            W[p + n + ".bias"] = rnd(H, std=0.1)
        W[p + "intermediate.dense.weight"] = rnd(I, H, std=0.4)
        W[p + "intermediate.dense.bias"] = rnd(I, std=0.1)
        W[p + "output.dense.weight"] = rnd(H, I, std=0.4)
        W[p + "output.dense.bias"] = rnd(H, std=0.1)
    proj = {"encode_proj.weight": rnd(P, H), "encode_proj.bias": rnd(P, std=0.1)}
    return W, proj


def encode(W, proj, ids, types, mask):
    def ln(x, n):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-12) * W[n + ".weight"] + W[n + ".bias"]
    lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]
    gelu = lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    B, T = ids.shape
    dh = H // NH
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:T][None] \
        + W["embeddings.token_type_embeddings.weight"][types]
    x = ln(x, "embeddings.LayerNorm")
    add_mask = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    split = lambda t: t.view(B, T, NH, dh).permute(0, 2, 1, 3)
    for l in range(NL):
        p = f"encoder.layer.{l}."
        q, k, v = (split(lin(x, p + "attention.self." + n)) for n in ["query", "key", "value"])
        ctx = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + add_mask, -1) @ v).permute(0, 2, 1, 3).reshape(B, T, H)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        x = ln(lin(gelu(lin(x, p + "intermediate.dense")), p + "output.dense") + x, p + "output.LayerNorm")
    mean = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    project = lambda v: v @ proj["encode_proj.weight"].T + proj["encode_proj.bias"]
    return x, project(x[:, 0]), project(mean)


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


# bert-base-uncased ids: questions "Hello world", "Paris is the capital of France."; a passage pair
# ("Paris", "Paris is the capital of France.") with token types 0/1.
inputs = {
    "query": [[101, 7592, 2088, 102], [101, 3000, 2003, 1996, 3007, 1997, 2605, 1012, 102]],
    "passage": [[101, 3000, 102, 3000, 2003, 1996, 3007, 1997, 2605, 1012, 102], [101, 9742, 6019, 26384, 4858, 6998, 1012, 102]],
}
type_ids = {"query": [[0] * 4, [0] * 9], "passage": [[0, 0, 0] + [1] * 8, [0] * 8]}
os.makedirs(OUT, exist_ok=True)
saved = {}
for role, hf in [("query", "question_encoder"), ("passage", "ctx_encoder")]:
    W, proj = weights()
    saved.update({f"{hf}.bert_model.{k}": v for k, v in W.items()})
    saved.update({f"{hf}.{k}": v for k, v in proj.items()})
    seqs = inputs[role]
    T = max(len(s) for s in seqs)
    ids = torch.tensor([s + [0] * (T - len(s)) for s in seqs])
    types = torch.tensor([t + [0] * (T - len(t)) for t in type_ids[role]])
    mask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in seqs])
    with torch.no_grad():
        seq, cls, mean = encode(W, proj, ids, types, mask)
    with open(os.path.join(OUT, f"expected-{role}.json"), "w") as f:
        json.dump({"torch": torch.__version__, "ids": ids.tolist(), "type_ids": types.tolist(), "mask": mask.tolist(),
                   "sequence_output": seq.tolist(), "cls_projected": cls.tolist(), "mean_projected": mean.tolist()}, f)
write_safetensors(os.path.join(OUT, "model.safetensors"), saved)
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
print("wrote", OUT)
