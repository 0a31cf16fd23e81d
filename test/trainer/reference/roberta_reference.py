"""Independent PyTorch reference for RoBERTa-family encoders (roberta, camembert, xlm-roberta).

Written from the published RoBERTa architecture (Liu et al. 2019) and HF RobertaModel's tensor
names, not from dprep's TypeScript. The encoder is BERT's (post-norm layers, exact erf GELU) with
RoBERTa's embeddings: position ids count the non-padding tokens starting at padding_idx + 1 and
padding positions get padding_idx itself (HF create_position_ids_from_input_ids); one token type.
Weights are random (seeded) in real HF layouts: `roberta.`-prefixed as a RobertaForMaskedLM saves
them (plus an lm_head tensor a loader must ignore) for roberta, bare RobertaModel names for
camembert. The vocabulary sizes are the real tokenizers' (50,265 and 32,005) and the hidden size
8, so each fixture stays under 2 MB with the full embedding table stored. Token ids come from the
real tokenizer.json files (test/trainer/reference/tokenize_ids.mjs prints them).

Run once:  /usr/bin/python3 test/trainer/reference/roberta_reference.py fixtures/trainer
(writes parity-roberta/ and parity-camembert/). CI does not need torch: tests read the fixtures.
"""
import json, math, os, struct, sys
import torch

ROOT = sys.argv[1] if len(sys.argv) > 1 else "fixtures/trainer"


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


def build(name, model_type, arch, vocab, pad, seqs, prefix, extra_tensors, seed):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=vocab, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
               hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=40,
               type_vocab_size=1, initializer_range=0.02, layer_norm_eps=1e-5, pad_token_id=pad, bos_token_id=0,
               eos_token_id=2, model_type=model_type, architectures=[arch])
    H, I, NL, NH = 8, 16, 2, 2
    eps = cfg["layer_norm_eps"]
    rnd = lambda *s, std=0.5: (torch.randn(*s) * std).float()
    W = {
        "embeddings.word_embeddings.weight": rnd(vocab, H),
        "embeddings.position_embeddings.weight": rnd(cfg["max_position_embeddings"], H),
        "embeddings.token_type_embeddings.weight": rnd(1, H),
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

    def ln(x, n):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * W[n + ".weight"] + W[n + ".bias"]

    lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]
    gelu = lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))

    T = max(len(s) for s in seqs)
    ids = torch.tensor([s + [pad] * (T - len(s)) for s in seqs])
    mask = (ids != pad).long()
    positions = torch.cumsum(mask, 1) * mask + pad  # real tokens pad+1, pad+2, ...; padding pad
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][positions] \
        + W["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
    x = ln(x, "embeddings.LayerNorm")
    B, dh = ids.shape[0], H // NH
    add_mask = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    split = lambda t: t.view(B, T, NH, dh).permute(0, 2, 1, 3)
    for l in range(NL):
        p = f"encoder.layer.{l}."
        q, k, v = (split(lin(x, p + "attention.self." + n)) for n in ["query", "key", "value"])
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + add_mask, -1)
        ctx = (a @ v).permute(0, 2, 1, 3).reshape(B, T, H)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        x = ln(lin(gelu(lin(x, p + "intermediate.dense")), p + "output.dense") + x, p + "output.LayerNorm")
    mean = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)

    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    saved = {prefix + k: v for k, v in W.items()}
    saved.update({k: rnd(*s) for k, s in extra_tensors.items()})
    write_safetensors(os.path.join(out, "model.safetensors"), saved)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"torch": torch.__version__, "ids": ids.tolist(), "mask": mask.tolist(), "position_ids": positions.tolist(),
                   "sequence_output": x.tolist(), "cls": x[:, 0].tolist(), "mean": mean.tolist()}, f)
    print("wrote", out, tuple(x.shape))


with torch.no_grad():
    # roberta-base tokenizer: "Hello world", " Hello world", "Dense passage retrieval finds answers in
    # Wikipedia.", and the pair ("Hello world", "Paris is the capital of France.") as <s> A </s></s> B </s>.
    build("parity-roberta", "roberta", "RobertaForMaskedLM", 50265, 1, [
        [0, 31414, 232, 2],
        [0, 20920, 232, 2],
        [0, 495, 9401, 9078, 43372, 5684, 5274, 11, 28274, 4, 2],
        [0, 31414, 232, 2, 2, 32826, 16, 5, 812, 9, 1470, 4, 2],
    ], "roberta.", {"lm_head.dense.weight": (8, 8), "lm_head.dense.bias": (8,)}, 20261202)
    # camembert-base tokenizer: "J'aime le camembert !", "Paris est la capitale de la France.", "Bonjour".
    build("parity-camembert", "camembert", "CamembertModel", 32005, 1, [
        [5, 121, 11, 660, 16, 730, 25543, 110, 83, 6],
        [5, 300, 30, 13, 2117, 8, 13, 184, 9, 6],
        [5, 1285, 6],
    ], "", {}, 20261203)
