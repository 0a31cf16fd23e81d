"""Independent PyTorch reference for cross-encoders (`*ForSequenceClassification`).

Written from the BERT/RoBERTa architectures and the classification heads of HF transformers'
modeling files as they are published (BertForSequenceClassification: pooler = tanh(dense([CLS]))
then a Linear `classifier`; RobertaForSequenceClassification: no pooler, `classifier.dense` +
tanh + `classifier.out_proj` on <s>; dropout is inactive at inference), not from dprep's TypeScript.
Weights are random (seeded) in the task model layouts HF saves (`bert.`/`roberta.` prefixes).

- cross-bert: num_labels 2, a whole-word vocab.txt, so the pair `[CLS] q [SEP] title text [SEP]`
  (token type ids 0 for the question and its [SEP], 1 after) is tokenized here by lookup: the
  fixture checks dprep's pair encoding as well as its forward pass.
- cross-roberta: num_labels 1, token ids as roberta-base's tokenizer gives them (`<s> q </s></s> p </s>`).
- cross-distilbert: num_labels 2, DistilBertForSequenceClassification (pre_classifier + ReLU +
  classifier on [CLS]; no token types, no pooler), cross-bert's vocabulary and pairs.

expected.json holds the inputs, the logits, and the score dprep must give: the logit for one label,
logit[1] − logit[0] (the log-odds of label 1; sigmoid of it is softmax's probability) for two.

Run once:  /usr/bin/python3 test/trainer/reference/cross_encoder_reference.py fixtures/trainer
CI does not need torch: tests read the fixtures.
"""
import json, math, os, struct, sys
import torch

ROOT = sys.argv[1] if len(sys.argv) > 1 else "fixtures/trainer"
H, I, NL, NH = 8, 16, 2, 2


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


rnd = lambda *s, std=0.5: (torch.randn(*s) * std).float()


def encoder_weights(vocab, types, positions):
    W = {
        "embeddings.word_embeddings.weight": rnd(vocab, H),
        "embeddings.position_embeddings.weight": rnd(positions, H),
        "embeddings.token_type_embeddings.weight": rnd(types, H),
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
    return W


def encode(W, ids, type_ids, mask, positions, eps):
    """Post-norm transformer encoder (BERT's), exact erf GELU; returns [B, T, H]."""
    ln = lambda x, n: (x - x.mean(-1, keepdim=True)) / torch.sqrt(((x - x.mean(-1, keepdim=True)) ** 2).mean(-1, keepdim=True) + eps) * W[n + ".weight"] + W[n + ".bias"]
    lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]
    gelu = lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    x = W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][positions] \
        + W["embeddings.token_type_embeddings.weight"][type_ids]
    x = ln(x, "embeddings.LayerNorm")
    B, T = ids.shape
    dh = H // NH
    add_mask = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    split = lambda t: t.view(B, T, NH, dh).permute(0, 2, 1, 3)
    for l in range(NL):
        p = f"encoder.layer.{l}."
        q, k, v = (split(lin(x, p + "attention.self." + n)) for n in ["query", "key", "value"])
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + add_mask, -1)
        ctx = (a @ v).permute(0, 2, 1, 3).reshape(B, T, H)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        x = ln(lin(gelu(lin(x, p + "intermediate.dense")), p + "output.dense") + x, p + "output.LayerNorm")
    return x


def score_of(logits):
    return logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]


def save(name, cfg, saved, expected, extra_files):
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "model.safetensors"), saved)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for fname, text in extra_files.items():
        with open(os.path.join(out, fname), "w") as f:
            f.write(text)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"torch": torch.__version__, **expected}, f)
    print("wrote", out, expected["scores"])


def bert(seed):
    torch.manual_seed(seed)
    words = ("who won the super bowl broncos denver panthers game where is paris capital of france city "
             "river seine what team played in a football league final score").split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    ix = {w: i for i, w in enumerate(vocab)}
    cfg = dict(vocab_size=len(vocab), hidden_size=H, num_hidden_layers=NL, num_attention_heads=NH, intermediate_size=I,
               hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=40,
               type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0, model_type="bert",
               architectures=["BertForSequenceClassification"], id2label={"0": "LABEL_0", "1": "LABEL_1"},
               label2id={"LABEL_0": 0, "LABEL_1": 1})
    W = encoder_weights(len(vocab), 2, 40)
    W["pooler.dense.weight"] = rnd(H, H, std=0.6)
    W["pooler.dense.bias"] = rnd(H, std=0.1)
    head = {"classifier.weight": rnd(2, H, std=0.8), "classifier.bias": rnd(2, std=0.1)}
    # (question, title, text): what `mine rescore` pairs.
    pairs = [
        ("who won the super bowl", "super bowl", "the denver broncos won the game"),
        ("who won the super bowl", "panthers", "the panthers played in the final"),
        ("where is paris", "paris", "paris is the capital of france"),
        ("where is paris", "", "the seine is a river"),
    ]
    seqs, types = [], []
    for q, title, text in pairs:
        a = [ix[w] for w in q.split()]
        b = [ix[w] for w in (title + " " + text).split()]
        seqs.append([ix["[CLS]"]] + a + [ix["[SEP]"]] + b + [ix["[SEP]"]])
        types.append([0] * (len(a) + 2) + [1] * (len(b) + 1))
    T = max(len(s) for s in seqs)
    ids = torch.tensor([s + [0] * (T - len(s)) for s in seqs])
    type_ids = torch.tensor([t + [0] * (T - len(t)) for t in types])
    mask = (torch.arange(T)[None, :] < torch.tensor([len(s) for s in seqs])[:, None]).long()
    x = encode(W, ids, type_ids, mask, torch.arange(T)[None, :].expand(len(seqs), T), cfg["layer_norm_eps"])
    pooled = torch.tanh(x[:, 0] @ W["pooler.dense.weight"].T + W["pooler.dense.bias"])
    logits = pooled @ head["classifier.weight"].T + head["classifier.bias"]
    saved = {"bert." + k: v for k, v in W.items()}
    saved.update(head)
    save("cross-bert", cfg, saved, {
        "pairs": [{"question": q, "title": t, "text": p} for q, t, p in pairs],
        "ids": ids.tolist(), "type_ids": type_ids.tolist(), "mask": mask.tolist(),
        "logits": logits.tolist(), "scores": score_of(logits).tolist()}, {"vocab.txt": "\n".join(vocab) + "\n"})
    return vocab, ids, mask


def roberta(seed):
    torch.manual_seed(seed)
    vocab, pad = 50265, 1
    cfg = dict(vocab_size=vocab, hidden_size=H, num_hidden_layers=NL, num_attention_heads=NH, intermediate_size=I,
               hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=40,
               type_vocab_size=1, initializer_range=0.02, layer_norm_eps=1e-5, pad_token_id=pad, bos_token_id=0,
               eos_token_id=2, model_type="roberta", architectures=["RobertaForSequenceClassification"],
               id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})
    W = encoder_weights(vocab, 1, 40)
    head = {"classifier.dense.weight": rnd(H, H, std=0.6), "classifier.dense.bias": rnd(H, std=0.1),
            "classifier.out_proj.weight": rnd(1, H, std=0.8), "classifier.out_proj.bias": rnd(1, std=0.1)}
    # roberta-base ids: ("Hello world", "Paris is the capital of France.") and ("Hello world", "Hello world").
    seqs = [[0, 31414, 232, 2, 2, 32826, 16, 5, 812, 9, 1470, 4, 2], [0, 31414, 232, 2, 2, 31414, 232, 2]]
    T = max(len(s) for s in seqs)
    ids = torch.tensor([s + [pad] * (T - len(s)) for s in seqs])
    mask = (ids != pad).long()
    positions = torch.cumsum(mask, 1) * mask + pad
    x = encode(W, ids, torch.zeros_like(ids), mask, positions, cfg["layer_norm_eps"])
    h = torch.tanh(x[:, 0] @ head["classifier.dense.weight"].T + head["classifier.dense.bias"])
    logits = h @ head["classifier.out_proj.weight"].T + head["classifier.out_proj.bias"]
    saved = {"roberta." + k: v for k, v in W.items()}
    saved.update(head)
    save("cross-roberta", cfg, saved, {"ids": ids.tolist(), "mask": mask.tolist(), "logits": logits.tolist(),
                                       "scores": score_of(logits).tolist()}, {})


def distilbert(seed, vocab, ids, mask):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=len(vocab), dim=H, n_layers=NL, n_heads=NH, hidden_dim=I, activation="gelu", dropout=0.1,
               attention_dropout=0.1, max_position_embeddings=40, initializer_range=0.02, pad_token_id=0,
               sinusoidal_pos_embds=False, qa_dropout=0.1, seq_classif_dropout=0.2, model_type="distilbert",
               architectures=["DistilBertForSequenceClassification"], id2label={"0": "LABEL_0", "1": "LABEL_1"},
               label2id={"LABEL_0": 0, "LABEL_1": 1})
    W = {"embeddings.word_embeddings.weight": rnd(len(vocab), H), "embeddings.position_embeddings.weight": rnd(40, H),
         "embeddings.LayerNorm.weight": 1 + rnd(H, std=0.1), "embeddings.LayerNorm.bias": rnd(H, std=0.1)}
    for l in range(NL):
        p = f"transformer.layer.{l}."
        for n in ["q_lin", "k_lin", "v_lin", "out_lin"]:
            W[p + "attention." + n + ".weight"] = rnd(H, H, std=0.4)
            W[p + "attention." + n + ".bias"] = rnd(H, std=0.1)
        for n in ["sa_layer_norm", "output_layer_norm"]:
            W[p + n + ".weight"] = 1 + rnd(H, std=0.1)
            W[p + n + ".bias"] = rnd(H, std=0.1)
        W[p + "ffn.lin1.weight"], W[p + "ffn.lin1.bias"] = rnd(I, H, std=0.4), rnd(I, std=0.1)
        W[p + "ffn.lin2.weight"], W[p + "ffn.lin2.bias"] = rnd(H, I, std=0.4), rnd(H, std=0.1)
    head = {"pre_classifier.weight": rnd(H, H, std=0.6), "pre_classifier.bias": rnd(H, std=0.1),
            "classifier.weight": rnd(2, H, std=0.8), "classifier.bias": rnd(2, std=0.1)}
    ln = lambda x, n: (x - x.mean(-1, keepdim=True)) / torch.sqrt(((x - x.mean(-1, keepdim=True)) ** 2).mean(-1, keepdim=True) + 1e-12) * W[n + ".weight"] + W[n + ".bias"]
    lin = lambda x, n, T=W: x @ T[n + ".weight"].T + T[n + ".bias"]
    gelu = lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    B, T = ids.shape
    dh = H // NH
    x = ln(W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][torch.arange(T)][None], "embeddings.LayerNorm")
    split = lambda t: t.view(B, T, NH, dh).transpose(1, 2)
    for l in range(NL):
        p = f"transformer.layer.{l}."
        q = split(lin(x, p + "attention.q_lin")) / math.sqrt(dh)
        k, v = split(lin(x, p + "attention.k_lin")), split(lin(x, p + "attention.v_lin"))
        a = (q @ k.transpose(2, 3)).masked_fill(mask[:, None, None, :] == 0, torch.finfo(torch.float32).min)
        ctx = (torch.softmax(a, -1) @ v).transpose(1, 2).reshape(B, T, H)
        x = ln(lin(ctx, p + "attention.out_lin") + x, p + "sa_layer_norm")
        x = ln(lin(gelu(lin(x, p + "ffn.lin1")), p + "ffn.lin2") + x, p + "output_layer_norm")
    logits = lin(torch.relu(lin(x[:, 0], "pre_classifier", head)), "classifier", head)
    saved = {"distilbert." + k: v for k, v in W.items()}
    saved.update(head)
    save("cross-distilbert", cfg, saved, {"ids": ids.tolist(), "mask": mask.tolist(), "logits": logits.tolist(),
                                          "scores": score_of(logits).tolist()}, {"vocab.txt": "\n".join(vocab) + "\n"})


with torch.no_grad():
    vocab, ids, mask = bert(20261210)
    roberta(20261211)
    distilbert(20261212, vocab, ids, mask)
