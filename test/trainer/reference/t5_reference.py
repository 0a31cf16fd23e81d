"""Independent PyTorch reference for T5 encoders (T5EncoderModel; golden fixture generator).

Written from the published T5 architecture (Raffel et al. 2020; T5 v1.1's gated-GELU FFN) and HF's
T5 tensor names, not from dprep's TypeScript: token embeddings (`shared`, no position table, no
scaling) -> dropout -> blocks of [RMSNorm (x / sqrt(mean(x^2) + eps) * w, no bias, no mean
subtraction) -> self-attention with no 1/sqrt(d) scaling plus a learned relative position bias
(bidirectional buckets: half per direction, exact below a quarter of the buckets, log-spaced up to
max_distance; one table in block 0 shared by all blocks) -> o -> residual; RMSNorm -> FFN (ReLU:
wo(relu(wi x)); gated-GELU: wo(gelu_tanh(wi_0 x) * wi_1 x)) -> residual] -> final RMSNorm. No
Linear has a bias.

Two fixtures: parity-t5 (gated-gelu, d_kv 3 so heads*d_kv != d_model, 32 buckets / distance 128,
`shared.weight` stored) and parity-t5-relu (relu, 8 buckets / distance 10 so the log buckets and
their cap are reached, only the tied `encoder.embed_tokens.weight` stored). Each also stores a
decoder tensor a loader must ignore. No T5 tokenizer is in ../shared/data: the ids are arbitrary
ones in T5's 32,128 vocabulary ending with </s> = 1 and padded with 0. A gradient check: d/dθ of
sum(mean-pooled vectors * R) for a fixed R, by autograd, for three tensors.

Run once:  /usr/bin/python3 test/trainer/reference/t5_reference.py fixtures/trainer
"""
import json, math, os, struct, sys
import torch

ROOT = sys.argv[1] if len(sys.argv) > 1 else "fixtures/trainer"


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        b = tensors[name].detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def bucket(rel, num_buckets, max_distance):
    """Bidirectional relative position bucket of key - query distances `rel` (int tensor)."""
    half = num_buckets // 2
    out = (rel > 0).long() * half
    n = rel.abs()
    max_exact = half // 2
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)).long()
    large = torch.minimum(large, torch.full_like(large, half - 1))
    return out + torch.where(n < max_exact, n, large)


def build(name, ffn, d_kv, buckets, max_distance, embed_name, seed):
    torch.manual_seed(seed)
    D, F, NL, NH, V = 8, 16, 2, 2, 32128
    inner = NH * d_kv
    cfg = dict(vocab_size=V, d_model=D, d_kv=d_kv, d_ff=F, num_layers=NL, num_decoder_layers=NL, num_heads=NH,
               relative_attention_num_buckets=buckets, relative_attention_max_distance=max_distance, dropout_rate=0.1,
               layer_norm_epsilon=1e-6, initializer_factor=1.0, feed_forward_proj=ffn, is_encoder_decoder=True,
               use_cache=True, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, model_type="t5",
               architectures=["T5EncoderModel"])
    rnd = lambda *s, std=0.5: (torch.randn(*s) * std).float().requires_grad_()
    W = {"shared.weight": rnd(V, D)}
    for l in range(NL):
        p = f"encoder.block.{l}.layer."
        for n in "qkv":
            W[f"{p}0.SelfAttention.{n}.weight"] = rnd(inner, D, std=0.4)
        W[f"{p}0.SelfAttention.o.weight"] = rnd(D, inner, std=0.4)
        if l == 0:
            W[f"{p}0.SelfAttention.relative_attention_bias.weight"] = rnd(buckets, NH)
        W[f"{p}0.layer_norm.weight"] = (1 + torch.randn(D) * 0.1).requires_grad_()
        for n in (["wi_0", "wi_1"] if ffn.startswith("gated") else ["wi"]):
            W[f"{p}1.DenseReluDense.{n}.weight"] = rnd(F, D, std=0.4)
        W[f"{p}1.DenseReluDense.wo.weight"] = rnd(D, F, std=0.4)
        W[f"{p}1.layer_norm.weight"] = (1 + torch.randn(D) * 0.1).requires_grad_()
    W["encoder.final_layer_norm.weight"] = (1 + torch.randn(D) * 0.1).requires_grad_()

    rms = lambda x, n: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * W[n]
    lin = lambda x, n: x @ W[n + ".weight"].T
    gelu_tanh = lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    seqs = [[8774, 296, 1], list(range(100, 119)) + [1], [37, 1679, 2, 5, 1]]
    T = max(len(s) for s in seqs)
    ids = torch.tensor([s + [0] * (T - len(s)) for s in seqs])
    mask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in seqs])
    B = ids.shape[0]
    pos = torch.arange(T)
    rel_bias = W["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"][bucket(pos[None, :] - pos[:, None], buckets, max_distance)]  # [T, T, NH]
    bias = rel_bias.permute(2, 0, 1)[None] + (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    x = W["shared.weight"][ids]
    split = lambda t: t.view(B, T, NH, d_kv).transpose(1, 2)
    for l in range(NL):
        p = f"encoder.block.{l}.layer."
        h = rms(x, f"{p}0.layer_norm.weight")
        q, k, v = (split(lin(h, f"{p}0.SelfAttention.{n}")) for n in "qkv")
        a = torch.softmax(q @ k.transpose(-1, -2) + bias, -1)
        x = x + lin((a @ v).transpose(1, 2).reshape(B, T, inner), f"{p}0.SelfAttention.o")
        g = rms(x, f"{p}1.layer_norm.weight")
        if ffn == "gated-gelu":
            f = gelu_tanh(lin(g, f"{p}1.DenseReluDense.wi_0")) * lin(g, f"{p}1.DenseReluDense.wi_1")
        else:
            f = torch.relu(lin(g, f"{p}1.DenseReluDense.wi"))
        x = x + lin(f, f"{p}1.DenseReluDense.wo")
    x = rms(x, "encoder.final_layer_norm.weight")
    mean = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    R = torch.randn(B, D)
    (mean * R).sum().backward()
    grad_names = ["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "encoder.block.1.layer.0.layer_norm.weight",
                  "encoder.block.0.layer.0.SelfAttention.q.weight"]

    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    saved = {k: v for k, v in W.items() if k != "shared.weight"}
    saved[embed_name] = W["shared.weight"]
    saved["decoder.final_layer_norm.weight"] = torch.ones(D)
    write_safetensors(os.path.join(out, "model.safetensors"), saved)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"torch": torch.__version__, "ids": ids.tolist(), "mask": mask.tolist(), "sequence_output": x.tolist(),
                   "cls": x[:, 0].tolist(), "mean": mean.tolist(),
                   "buckets": bucket(pos[None, :] - pos[:, None], buckets, max_distance).tolist(),
                   "grad_of": {"weights": R.tolist(), "pooling": "mean"},
                   "grads": {n: W[n].grad.tolist() for n in grad_names}}, f)
    print("wrote", out, tuple(x.shape))


build("parity-t5", "gated-gelu", 3, 32, 128, "shared.weight", 20261206)
build("parity-t5-relu", "relu", 4, 8, 10, "encoder.embed_tokens.weight", 20261207)
