"""Evidence that safetensors written by dprep load in Python and mean the same model.

1. Parses MODEL_DIR/model.safetensors strictly by the safetensors spec (what the `safetensors`
   package enforces: u64 LE header size, JSON header, __metadata__ format "pt", dtype F32,
   offsets sorted, contiguous, starting at 0 and covering the whole data section) and turns every
   tensor into a torch tensor with torch.frombuffer.
2. Checks names/shapes against HF BertModel for MODEL_DIR/config.json.
3. Runs the independent PyTorch BERT of bert_reference.py on the ids in EXPECTED_JSON and
   compares with the sequence output dprep computed for the same ids.

Run:  npx tsx bench/train-export-check.ts /tmp/x && /usr/bin/python3 test/trainer/reference/check_hf_safetensors.py /tmp/x
"""
import json, math, os, struct, sys
import torch

d = sys.argv[1]
model_dir = os.path.join(d, "model")
cfg = json.load(open(os.path.join(model_dir, "config.json")))
raw = open(os.path.join(model_dir, "model.safetensors"), "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
assert (8 + n) % 8 == 0, "data section not 8-byte aligned"
assert header.pop("__metadata__") == {"format": "pt"}
data = raw[8 + n:]
W, end = {}, 0
for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    b, e = info["data_offsets"]
    assert info["dtype"] == "F32" and b == end and e - b == 4 * math.prod(info["shape"]), name
    W[name] = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(info["shape"])
    end = e
assert end == len(data), "trailing bytes"
H, I, L, NH = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]
want = {"embeddings.word_embeddings.weight": [cfg["vocab_size"], H], "embeddings.position_embeddings.weight": [cfg["max_position_embeddings"], H],
        "embeddings.token_type_embeddings.weight": [cfg["type_vocab_size"], H], "embeddings.LayerNorm.weight": [H], "embeddings.LayerNorm.bias": [H],
        "pooler.dense.weight": [H, H], "pooler.dense.bias": [H]}
for l in range(L):
    p = f"encoder.layer.{l}."
    for m in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
        want[p + m + ".weight"], want[p + m + ".bias"] = [H, H], [H]
    for m in ["attention.output.LayerNorm", "output.LayerNorm"]:
        want[p + m + ".weight"], want[p + m + ".bias"] = [H], [H]
    want[p + "intermediate.dense.weight"], want[p + "intermediate.dense.bias"] = [I, H], [I]
    want[p + "output.dense.weight"], want[p + "output.dense.bias"] = [H, I], [H]
assert {k: list(v.shape) for k, v in W.items()} == want, "names/shapes differ from HF BertModel"

def layer_norm(x, g, b):
    mu = x.mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + cfg["layer_norm_eps"]) * g + b

def bert(ids, types, mask):
    B, T = ids.shape
    lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:T][None] + W["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"])
    dh = H // NH
    bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for l in range(L):
        p = f"encoder.layer.{l}."
        heads = lambda t: t.view(B, T, NH, dh).permute(0, 2, 1, 3)
        q, k, v = (heads(lin(x, p + "attention.self." + n)) for n in ["query", "key", "value"])
        ctx = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + bias, -1) @ v).permute(0, 2, 1, 3).reshape(B, T, H)
        x = layer_norm(lin(ctx, p + "attention.output.dense") + x, W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"])
        h = lin(x, p + "intermediate.dense")
        h = 0.5 * h * (1 + torch.erf(h / math.sqrt(2)))
        x = layer_norm(lin(h, p + "output.dense") + x, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"])
    return x

ex = json.load(open(os.path.join(d, "dprep-output.json")))
with torch.no_grad():
    seq = bert(torch.tensor(ex["ids"]), torch.tensor(ex["type_ids"]), torch.tensor(ex["mask"]))
diff = (seq - torch.tensor(ex["sequence_output"])).abs().max().item()
print(f"torch {torch.__version__}: {len(W)} tensors parsed per spec, names/shapes = HF BertModel, forward max |diff| vs dprep = {diff:.2e}")
assert diff < 1e-4
print("OK")
