"""Writes the pytorch_model.bin fixtures of test/trainer/torch-bin.test.ts with torch.save, and
expected.json beside them: per file, each float tensor's shape and its values flattened in C order
as torch computes them in float32, and the names of the non-float tensors the reader skips.

CI has no PyTorch, so the outputs are committed; rerun after changing this script:
  /usr/bin/python3 test/trainer/reference/make_torch_bin.py   (Debian's python3-torch, 1.13)
"""
import collections, io, json, os, struct, sys, zipfile, zlib
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "trainer", "torch-bin")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)


class Layer(nn.Module):
    """One BERT layer under HF BertModel names (hidden 4, intermediate 8)."""

    def __init__(self, h, i):
        super().__init__()
        self.attention = nn.ModuleDict(dict(
            self=nn.ModuleDict(dict(query=nn.Linear(h, h), key=nn.Linear(h, h), value=nn.Linear(h, h))),
            output=nn.ModuleDict(dict(dense=nn.Linear(h, h), LayerNorm=nn.LayerNorm(h))),
        ))
        self.intermediate = nn.ModuleDict(dict(dense=nn.Linear(h, i)))
        self.output = nn.ModuleDict(dict(dense=nn.Linear(i, h), LayerNorm=nn.LayerNorm(h)))


class TinyBert(nn.Module):
    def __init__(self, vocab=12, h=4, i=8, positions=6, position_ids=False):
        super().__init__()
        self.embeddings = nn.ModuleDict(dict(
            word_embeddings=nn.Embedding(vocab, h), position_embeddings=nn.Embedding(positions, h),
            token_type_embeddings=nn.Embedding(2, h), LayerNorm=nn.LayerNorm(h),
        ))
        if position_ids:  # the int64 buffer older transformers versions save
            self.embeddings.register_buffer("position_ids", torch.arange(positions).expand((1, -1)))
        self.encoder = nn.ModuleDict(dict(layer=nn.ModuleList([Layer(h, i)])))
        self.pooler = nn.ModuleDict(dict(dense=nn.Linear(h, h)))
        with torch.no_grad():  # LayerNorm starts at 1/0: make every value distinct
            for p in self.parameters():
                p.copy_(torch.randn_like(p))


expected = {}


def record(name, sd):
    entry = {"tensors": {}, "skipped": []}
    for k, t in sd.items():
        if t.dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
            entry["tensors"][k] = {"shape": list(t.shape), "values": t.to(torch.float32).contiguous().flatten().tolist()}
        else:
            entry["skipped"].append(k)
    expected[name] = entry


def save(name, sd, **kw):
    path = os.path.join(OUT, name)
    torch.save(sd, path, **kw)
    back = torch.load(path)
    assert list(back.keys()) == list(sd.keys()), name
    record(name, sd)
    return path


# 1. a BERT-shaped state dict (genuine state_dict(): OrderedDict with _metadata), float32
bert = TinyBert().state_dict()
bert_path = save("bert.bin", bert)

# 2. fp16 / bf16 / float64 tensors (the upcast to float32 is exact)
save("dtypes.bin", collections.OrderedDict(
    half=torch.tensor([1.0, -2.0, 0.333251953125, 65504.0, 6.103515625e-05, 5.960464477539063e-08], dtype=torch.float16),
    bf16=torch.randn(2, 3).to(torch.bfloat16),
    double=torch.tensor([[0.1, -1e-300], [1e30, 3.0]], dtype=torch.float64),
))

# 3. views saved as they are: a transposed (non-contiguous) weight and views with storage offsets
base = torch.randn(3, 5)
flat = torch.arange(24, dtype=torch.float32)
save("views.bin", collections.OrderedDict(
    transposed=base.t(),                      # [5, 3], strides (1, 5)
    offset=flat[5:11].view(2, 3),             # storage offset 5
    strided=flat.view(4, 6)[1:, ::2],         # offset 6, strides (6, 2)
    scalar=flat[7],                           # 0-d, offset 7
))

# 4. tied embeddings: two names, one storage
emb = torch.randn(5, 4)
save("shared.bin", collections.OrderedDict([
    ("embeddings.word_embeddings.weight", emb),
    ("cls.predictions.decoder.weight", emb),
    ("cls.predictions.bias", torch.randn(5)),
]))

# 5. an int64 buffer (position_ids) beside float weights
save("int64.bin", TinyBert(position_ids=True).state_dict())

# 6. the legacy (pre-1.6) format: a pickle stream, not a zip
save("legacy.bin", collections.OrderedDict(w=torch.randn(2, 3), b=torch.randn(3).to(torch.float16), v=flat[3:9].view(3, 2)),
     _use_new_zipfile_serialization=False)

# 7. a pickle past 256 memo slots (LONG_BINPUT/LONG_BINGET, as in any real model) and sizes past
#    65535 (BININT): 80 views of one storage, and an empty [0, 70000] tensor (no bytes to store)
many = collections.OrderedDict((f"layer.{i}.scale", flat[i % 24]) for i in range(80))
many["empty"] = torch.empty(0, 70000)
half = torch.randn(4).half()  # a storage type first seen past slot 256, then fetched back (LONG_BINGET)
many["h1"], many["h2"] = half, half[1:]
save("many.bin", many)

# 8. non-finite values (not in expected.json: JSON has no NaN)
torch.save(collections.OrderedDict(ok=torch.ones(2), bad=torch.tensor([1.0, float("nan"), float("inf")])), os.path.join(OUT, "nonfinite.bin"))


# 9. bert.bin rewritten deflated and with zip64 records (what torch writes past 4 GB), checked with
#    torch.load: torch's own zip reader must agree these are valid checkpoints.
def rezip_deflated(src, dst):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            # A fixed timestamp keeps the fixture byte-identical across runs.
            zout.writestr(zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0)), zin.read(info.filename), zipfile.ZIP_DEFLATED)


def rezip_zip64(src, dst):
    """Stored entries whose local and central sizes/offsets live in zip64 extra fields (0xFFFFFFFF in the
    32-bit fields), plus the zip64 end-of-central-directory record and locator."""
    with zipfile.ZipFile(src) as zin:
        items = [(i.filename.encode(), zin.read(i.filename)) for i in zin.infolist()]
    out, central = io.BytesIO(), io.BytesIO()
    for name, data in items:
        crc, off = zlib.crc32(data), out.tell()
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra)))
        out.write(name + extra + data)
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                  len(name), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF))
        central.write(name + cextra)
    cd_off, cd = out.tell(), central.getvalue()
    out.write(cd)
    z64_off, n = out.tell(), len(items)
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(cd), cd_off))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, z64_off, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    open(dst, "wb").write(out.getvalue())


for name, rezip in (("deflated.bin", rezip_deflated), ("zip64.bin", rezip_zip64)):
    path = os.path.join(OUT, name)
    rezip(bert_path, path)
    back = torch.load(path)
    assert all(torch.equal(back[k], bert[k]) for k in bert), name
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None, name
    record(name, bert)

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=None, separators=(",", ":"))
    f.write("\n")
print("wrote", sorted(os.listdir(OUT)), file=sys.stderr)
