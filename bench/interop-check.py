#!/usr/bin/env python3
"""Checks that models dprep exported load in Hugging Face transformers and sentence-transformers
and compute the vectors dprep computed.

dprep itself never runs Python; this script is for a machine that has torch, transformers and
sentence-transformers installed (a GPU box, a user's laptop). The fixtures it reads are made by
`bench/interop-make.sh` (dprep: init-model per family, export in every layout, encode the inputs),
which writes `<dir>/manifest.json`:

    {"cases": [{"name": "camembert-hf", "layout": "hf" | "dpr-question" | "dpr-context" | "sentence-transformers",
                "dir": "camembert/hf", "pooling": "cls" | "mean", "normalize": false,
                "max_length": 32, "model_type": "camembert",
                "inputs": [{"title": "...", "text": "..."}], "rendered": ["query: ..."] | null,
                "ids": [[0, 31414, ...], ...], "vectors": [[...], ...]}]}

`ids` are the token ids dprep fed the model (specials included, truncated longest-first to
`max_length`), `vectors` what dprep's encoder returned. Sentence-transformers cases hold untitled
inputs (`SentenceTransformer.encode` takes one string) and no prompt_name is passed: `rendered`
already carries the prompt. For each case the script checks, independently of dprep's code:
  1. the family's own tokenizer (AutoTokenizer) gives the same ids for the same inputs;
  2. the model loaded by the library a user would use gives the same vectors (max abs diff);
  3. the config names the class those libraries expect (model_type / architectures).

Usage:  python3 bench/interop-check.py .bench-data/interop [--atol 1e-4]
Exit status 0 when every case passes, 1 otherwise; one line per case.
"""
import argparse
import json
import os
import sys

import torch


def tokenize(tok, inp, rendered, max_length):
    """DPR's input: a (title, text) pair; with a template, the rendered single string. Truncated
    longest-first to the length dprep used; token type ids kept (BERT's pair segments)."""
    args = [rendered] if rendered is not None else [inp["title"], inp["text"]] if inp.get("title") else [inp["text"]]
    enc = tok(*args, truncation=True, max_length=max_length)
    return enc["input_ids"], enc.get("token_type_ids")


def tokenize_all(tok, case):
    rendered = case.get("rendered") or [None] * len(case["inputs"])
    pairs = [tokenize(tok, i, r, case.get("max_length")) for i, r in zip(case["inputs"], rendered)]
    return [p[0] for p in pairs], None if pairs[0][1] is None else [p[1] for p in pairs]


def pool(hidden, mask, how):
    if how == "cls":
        return hidden[:, 0]
    if how == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    raise ValueError(f"pooling {how!r} not checked by this script")


def padded(ids, pad_id, type_ids=None):
    n = max(len(x) for x in ids)
    features = {
        "input_ids": torch.tensor([x + [pad_id] * (n - len(x)) for x in ids]),
        "attention_mask": torch.tensor([[1] * len(x) + [0] * (n - len(x)) for x in ids]),
    }
    if type_ids is not None:
        features["token_type_ids"] = torch.tensor([t + [0] * (n - len(t)) for t in type_ids])
    return features


def vectors_for(case, path):
    layout = case["layout"]
    if layout == "hf":
        from transformers import AutoModel, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path).eval()
        ids, type_ids = tokenize_all(tok, case)
        features = padded(ids, tok.pad_token_id, type_ids)
        with torch.no_grad():
            hidden = model(**features).last_hidden_state
        vecs = pool(hidden, features["attention_mask"], case["pooling"])
        if case.get("normalize"):
            vecs = torch.nn.functional.normalize(vecs, dim=-1)
        return ids, vecs, model.config
    if layout in ("dpr-question", "dpr-context"):
        from transformers import AutoTokenizer, DPRContextEncoder, DPRQuestionEncoder

        cls = DPRQuestionEncoder if layout == "dpr-question" else DPRContextEncoder
        tok = AutoTokenizer.from_pretrained(path)
        model = cls.from_pretrained(path).eval()
        ids, type_ids = tokenize_all(tok, case)
        with torch.no_grad():
            vecs = model(**padded(ids, tok.pad_token_id, type_ids)).pooler_output
        return ids, vecs, model.config
    if layout == "sentence-transformers":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(path, device="cpu")
        texts = case.get("rendered") or [i["text"] for i in case["inputs"]]
        ids = [model.tokenizer(t, truncation=True, max_length=model.max_seq_length)["input_ids"] for t in texts]
        vecs = torch.tensor(model.encode(texts, convert_to_numpy=True, batch_size=len(texts)))
        return ids, vecs, model[0].auto_model.config
    raise ValueError(f"unknown layout {layout!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()
    manifest = json.load(open(os.path.join(args.dir, "manifest.json")))
    failed = 0
    for case in manifest["cases"]:
        path = os.path.join(args.dir, case["dir"])
        try:
            ids, vecs, config = vectors_for(case, path)
            problems = []
            if [list(x) for x in ids] != case["ids"]:
                problems.append(f"token ids differ: library {ids[0][:12]}… vs dprep {case['ids'][0][:12]}…")
            expected = torch.tensor(case["vectors"], dtype=torch.float32)
            if vecs.shape != expected.shape:
                problems.append(f"vector shape {tuple(vecs.shape)} vs dprep {tuple(expected.shape)}")
            else:
                diff = (vecs.float() - expected).abs().max().item()
                if not diff <= args.atol:
                    problems.append(f"max abs diff {diff:.3g} > {args.atol}")
            want_type = case.get("model_type")
            if want_type and config.model_type != want_type:
                problems.append(f"config model_type {config.model_type!r}, expected {want_type!r}")
            status = "ok" if not problems else "FAIL " + "; ".join(problems)
        except Exception as err:  # a load failure is a finding, not a crash of the check
            status = f"FAIL {type(err).__name__}: {err}"
        failed += status != "ok"
        print(f"{case['name']:<32} {case['layout']:<22} {status}")
    print(f"{len(manifest['cases']) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
