import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTensors, readWeights, WEIGHT_FILES } from '../../src/trainer/weights.ts';
import { writeSafetensors, type NamedTensor } from '../../src/trainer/safetensors.ts';
import { readTorchBin } from '../../src/trainer/torch-bin.ts';
import { InputError } from '../../src/util/errors.ts';
import { FIXTURES } from '../_paths.ts';
import { bertTensorShapes, POOLER_SHAPES } from '../../src/trainer/bert.ts';
import { tinyConfig } from './_helpers.ts';

const BIN = join(FIXTURES, 'trainer', 'torch-bin');
const root = await mkdtemp(join(tmpdir(), 'dprep-weights-'));
let n = 0;
async function modelDir(files: Record<string, string | Map<string, NamedTensor> | object>): Promise<string> {
  const dir = join(root, `m${n++}`);
  await mkdir(dir);
  for (const [name, src] of Object.entries(files)) {
    if (typeof src === 'string') await copyFile(src, join(dir, name));
    else if (src instanceof Map) await writeSafetensors(join(dir, name), src);
    else await writeFile(join(dir, name), JSON.stringify(src));
  }
  return dir;
}
const t = (shape: number[], ...values: number[]): NamedTensor => ({ shape, data: Float32Array.from(values) });

async function rejectsWith(p: Promise<unknown>, re: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.match(err.message, re);
    return true;
  });
}

test('readWeights: safetensors first, then pytorch_model.bin; the formats are indistinguishable', async () => {
  const fromBin = await readTorchBin(join(BIN, 'int64.bin'));
  const binDir = await modelDir({ 'pytorch_model.bin': join(BIN, 'int64.bin') });
  const viaBin = await readWeights(binDir);
  assert.equal(viaBin.source, join(binDir, 'pytorch_model.bin'));
  assert.deepEqual(viaBin.skipped, ['embeddings.position_ids']);
  // The same tensors as safetensors: identical maps come back.
  const stDir = await modelDir({ 'model.safetensors': fromBin.tensors });
  const viaSt = await readWeights(stDir);
  assert.deepEqual(viaSt.tensors, viaBin.tensors);
  // Both present: safetensors wins.
  const both = await modelDir({ 'model.safetensors': new Map([['only.here', t([1], 7)]]), 'pytorch_model.bin': join(BIN, 'bert.bin') });
  assert.deepEqual([...(await readWeights(both)).tensors.keys()], ['only.here']);
});

test('readWeights: no weights lists every file looked for', async () => {
  const dir = await modelDir({ 'config.json': {} });
  await rejectsWith(readWeights(dir), new RegExp(`no model weights: looked for ${WEIGHT_FILES.join(', ').replace(/\./g, '\\.')}`));
});

test('readWeights: sharded safetensors and pytorch_model.bin checkpoints follow weight_map', async () => {
  const a = new Map([['a.weight', t([2], 1, 2)], ['b.weight', t([1], 3)]]);
  const b = new Map([['c.weight', t([1, 1], 4)]]);
  const st = await modelDir({
    'model-00001-of-00002.safetensors': a,
    'model-00002-of-00002.safetensors': b,
    'model.safetensors.index.json': { metadata: { total_size: 16 }, weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00001-of-00002.safetensors', 'c.weight': 'model-00002-of-00002.safetensors' } },
  });
  const w = await readWeights(st);
  assert.deepEqual(w.tensors, new Map([...a, ...b]));
  assert.equal(w.source, join(st, 'model.safetensors.index.json'));
  assert.equal(w.files.length, 3);

  const bin = await modelDir({
    'pytorch_model-00001-of-00002.bin': join(BIN, 'shared.bin'),
    'pytorch_model-00002-of-00002.bin': join(BIN, 'dtypes.bin'),
    'pytorch_model.bin.index.json': { weight_map: { 'embeddings.word_embeddings.weight': 'pytorch_model-00001-of-00002.bin', half: 'pytorch_model-00002-of-00002.bin' } },
  });
  const wb = await readWeights(bin);
  assert.deepEqual([...wb.tensors.keys()].sort(), ['bf16', 'cls.predictions.bias', 'cls.predictions.decoder.weight', 'double', 'embeddings.word_embeddings.weight', 'half']);
  assert.deepEqual(wb.tensors.get('half'), (await readTorchBin(join(BIN, 'dtypes.bin'))).tensors.get('half'));
});

test('readWeights: broken shard indexes name the index, shard and tensor', async () => {
  const a = new Map([['a.weight', t([1], 1)]]);
  const idx = (weight_map: unknown) => ({ 'model.safetensors.index.json': { weight_map }, 's1.safetensors': a, 's2.safetensors': a });
  await rejectsWith(readWeights(await modelDir(idx({ 'a.weight': 's3.safetensors' }))), /model\.safetensors\.index\.json, weight_map "a\.weight": shard s3\.safetensors not found/);
  await rejectsWith(readWeights(await modelDir(idx({ 'a.weight': 's1.safetensors', 'z.weight': 's1.safetensors' }))), /s1\.safetensors, tensor "z\.weight": missing, though model\.safetensors\.index\.json puts it in this shard/);
  await rejectsWith(readWeights(await modelDir(idx({ 'a.weight': 's1.safetensors', 'b.weight': 's2.safetensors' }))), /s2\.safetensors, tensor "a\.weight": also in shard s1\.safetensors/);
  await rejectsWith(readWeights(await modelDir(idx({ 'a.weight': '../s1.safetensors' }))), /weight_map "a\.weight": expected a shard file name in the same directory/);
  await rejectsWith(readWeights(await modelDir(idx(['a.weight']))), /field "weight_map": expected an object/);
  const bad = await modelDir({});
  await writeFile(join(bad, 'pytorch_model.bin.index.json'), '{"weight_map": ');
  await rejectsWith(readWeights(bad), /pytorch_model\.bin\.index\.json: invalid JSON/);
});

test('readWeights: requireFinite refuses NaN/Inf naming the tensor; off by default', async () => {
  const dir = await modelDir({ 'pytorch_model.bin': join(BIN, 'nonfinite.bin') });
  await rejectsWith(readWeights(dir, { requireFinite: true }), /pytorch_model\.bin, tensor "bad": holds non-finite values \(NaN at flat index 1\); 1 tensor\(s\) in all: bad/);
  const w = await readWeights(dir);
  assert.ok(Number.isNaN(w.tensors.get('bad')!.data[1]));
  assert.equal(w.tensors.get('bad')!.data[2], Infinity);
});

const expected = new Map([
  ['embeddings.word_embeddings.weight', [3, 2]],
  ['encoder.layer.0.output.dense.weight', [2, 3]],
  ['pooler.dense.weight', [2, 2]],
]);
const good = () =>
  new Map([
    ['embeddings.word_embeddings.weight', t([3, 2], 1, 2, 3, 4, 5, 6)],
    ['encoder.layer.0.output.dense.weight', t([2, 3], 1, 2, 3, 4, 5, 6)],
    ['pooler.dense.weight', t([2, 2], 1, 2, 3, 4)],
  ]);

const CASES: { what: string; edit: (m: Map<string, NamedTensor>) => void; opts?: object; error?: string }[] = [
  { what: 'a matching map', edit: () => {} },
  {
    what: 'missing, unexpected and mis-shaped, all in one message',
    edit: (m) => {
      m.delete('pooler.dense.weight');
      m.delete('embeddings.word_embeddings.weight');
      m.set('cls.predictions.bias', t([3], 0, 0, 0));
      m.set('encoder.layer.0.output.dense.weight', t([3, 2], 1, 2, 3, 4, 5, 6));
    },
    error: 'model.bin: missing: embeddings.word_embeddings.weight, pooler.dense.weight; unexpected: cls.predictions.bias; shape of encoder.layer.0.output.dense.weight: expected [2,3], got [3,2]',
  },
  { what: 'a rank mismatch', edit: (m) => m.set('pooler.dense.weight', t([4], 1, 2, 3, 4)), error: 'model.bin: shape of pooler.dense.weight: expected [2,2], got [4]' },
  {
    what: 'ignored names: whole dotted parts and RegExps, neither required nor refused',
    edit: (m) => {
      m.delete('pooler.dense.weight');
      m.set('embeddings.position_ids', t([1], 0));
      m.set('cls.seq_relationship.bias', t([1], 0));
    },
    opts: { ignore: ['pooler', 'position_ids', /^cls\./] },
  },
  { what: 'ignore matches whole parts only', edit: (m) => m.set('poolers.x', t([1], 0)), opts: { ignore: ['pooler'] }, error: 'model.bin: unexpected: poolers.x' },
  {
    what: 'NaN/Inf named by default',
    edit: (m) => m.set('pooler.dense.weight', t([2, 2], 1, NaN, -Infinity, 4)),
    error: 'model.bin: non-finite values in pooler.dense.weight: NaN at flat index 1',
  },
  { what: 'NaN/Inf allowed when asked', edit: (m) => m.set('pooler.dense.weight', t([2, 2], 1, NaN, 3, 4)), opts: { requireFinite: false } },
];

for (const c of CASES) {
  test(`checkTensors: ${c.what}`, () => {
    const m = good();
    c.edit(m);
    const run = () => checkTensors(m, expected, { file: 'model.bin', ...c.opts });
    if (c.error === undefined) run();
    else assert.throws(run, (err: unknown) => err instanceof InputError && err.message === c.error);
  });
}

test('checkTensors caps long name lists with a count', () => {
  const many = new Map(Array.from({ length: 60 }, (_, i) => [`w${i}`, [1]]));
  assert.throws(() => checkTensors(new Map(), many, { file: 'f' }), /missing: w0, w1, .*w49, … and 10 more$/);
});

test('a torch.save BERT state dict passes the check against the model config, as a loader would call it', async () => {
  const config = tinyConfig({ vocab_size: 12, hidden_size: 4, intermediate_size: 8, max_position_embeddings: 6, num_attention_heads: 2 });
  const w = await readWeights(await modelDir({ 'pytorch_model.bin': join(BIN, 'int64.bin') }), { requireFinite: true });
  checkTensors(w.tensors, bertTensorShapes(config), { file: w.source, ignore: ['pooler', 'position_ids'] });
  checkTensors(w.tensors, new Map([...bertTensorShapes(config), ...POOLER_SHAPES(config)]), { file: w.source });
  // One size off in the config: every tensor of that size is named.
  assert.throws(
    () => checkTensors(w.tensors, bertTensorShapes({ ...config, intermediate_size: 16 }), { file: w.source, ignore: ['pooler'] }),
    /pytorch_model\.bin: shape of encoder\.layer\.0\.intermediate\.dense\.weight: expected \[16,4\], got \[8,4\]; shape of encoder\.layer\.0\.intermediate\.dense\.bias: expected \[16\], got \[8\]; shape of encoder\.layer\.0\.output\.dense\.weight: expected \[4,16\], got \[4,8\]$/,
  );
});
