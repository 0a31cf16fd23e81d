"""Independent PyTorch reference for dprep's BERT forward pass (golden fixture generator).

Written from the published BERT architecture (Devlin et al. 2019; HF BertModel's tensor names),
not from dprep's TypeScript: embeddings (word + position + token type) -> LayerNorm -> layers of
[multi-head self-attention with an additive padding mask, dense, residual LayerNorm, dense + exact
erf GELU, dense, residual LayerNorm]. Weights are random (seeded), saved as safetensors with a
hand-written writer (the `safetensors` package is not available here); inputs and expected outputs
go to JSON.

Run once:  /usr/bin/python3 test/trainer/reference/bert_reference.py fixtures/trainer/parity
CI does not need torch: the test reads the committed fixture.
"""
import json, math, os, struct, sys
import torch

torch.manual_seed(20240607)
OUT = sys.argv[1] if len(sys.argv) > 1 else "fixtures/trainer/parity"
os.makedirs(OUT, exist_ok=True)

cfg = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=32,
           hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=24,
           type_vocab_size=2, initializer_range=0.5, layer_norm_eps=1e-12, pad_token_id=0, model_type="bert",
           architectures=["BertModel"])
H, I, L, NH = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]

def rnd(*shape, std=0.5):
    return (torch.randn(*shape) * std).float()

W = {
    "embeddings.word_embeddings.weight": rnd(cfg["vocab_size"], H),
    "embeddings.position_embeddings.weight": rnd(cfg["max_position_embeddings"], H),
    "embeddings.token_type_embeddings.weight": rnd(cfg["type_vocab_size"], H),
    "embeddings.LayerNorm.weight": 1 + rnd(H, std=0.1),
    "embeddings.LayerNorm.bias": rnd(H, std=0.1),
    "pooler.dense.weight": rnd(H, H),
    "pooler.dense.bias": rnd(H, std=0.1),
}
for l in range(L):
    p = f"encoder.layer.{l}."
    for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
        W[p + n + ".weight"] = rnd(H, H, std=0.3)
        W[p + n + ".bias"] = rnd(H, std=0.1)
    W[p + "attention.output.LayerNorm.weight"] = 1 + rnd(H, std=0.1)
    W[p + "attention.output.LayerNorm.bias"] = rnd(H, std=0.1)
    W[p + "intermediate.dense.weight"] = rnd(I, H, std=0.3)
    W[p + "intermediate.dense.bias"] = rnd(I, std=0.1)
    W[p + "output.dense.weight"] = rnd(H, I, std=0.3)
    W[p + "output.dense.bias"] = rnd(H, std=0.1)
    W[p + "output.LayerNorm.weight"] = 1 + rnd(H, std=0.1)
    W[p + "output.LayerNorm.bias"] = rnd(H, std=0.1)

def layer_norm(x, g, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + cfg["layer_norm_eps"]) * g + b

def linear(x, name):
    return x @ W[name + ".weight"].T + W[name + ".bias"]

def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))

def bert(ids, types, mask):
    B, T = ids.shape
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:T][None] \
        + W["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])
    dh = H // NH
    bias = (1.0 - mask[:, None, None, :].double()) * torch.finfo(torch.float32).min
    for l in range(L):
        p = f"encoder.layer.{l}."
        heads = lambda t: t.view(B, T, NH, dh).permute(0, 2, 1, 3)
        q, k, v = (heads(linear(x, p + "attention.self." + n)) for n in ["query", "key", "value"])
        s = (q @ k.transpose(-1, -2)) / math.sqrt(dh) + bias.float()
        ctx = (torch.softmax(s, -1) @ v).permute(0, 2, 1, 3).reshape(B, T, H)
        x = layer_norm(linear(ctx, p + "attention.output.dense") + x, W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"])
        h = gelu(linear(x, p + "intermediate.dense"))
        x = layer_norm(linear(h, p + "output.dense") + x, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"])
    return x

ids = torch.tensor([[2, 17, 5, 33, 9, 3, 11, 28, 3, 0, 0], [2, 7, 7, 39, 3, 0, 0, 0, 0, 0, 0], [2, 1, 19, 23, 31, 4, 3, 12, 8, 22, 3]])
types = torch.tensor([[0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0], [0] * 11, [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]])
mask = (torch.arange(11)[None] < torch.tensor([[9], [5], [11]])).long()
with torch.no_grad():
    seq = bert(ids, types, mask)
    mean = (seq * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)

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

write_safetensors(os.path.join(OUT, "model.safetensors"), W)
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"torch": torch.__version__, "ids": ids.tolist(), "type_ids": types.tolist(), "mask": mask.tolist(),
               "sequence_output": seq.tolist(), "cls": seq[:, 0].tolist(), "mean": mean.tolist()}, f)
print("wrote", OUT, "seq", tuple(seq.shape))
