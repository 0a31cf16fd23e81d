import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, copyFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { BertModel, initBertTensors } from '../../src/trainer/bert.ts';
import { readModelDir, writeModelDir } from '../../src/trainer/checkpoint.ts';
import { bertConfigJson } from '../../src/trainer/config.ts';
import { encodeSafetensors, type NamedTensor } from '../../src/trainer/safetensors.ts';
import { getTf, tinyConfig } from './_helpers.ts';

const PARITY = join(FIXTURES, 'trainer', 'parity');
const VOCAB = join(FIXTURES, 'models', 'bert-tiny');
const bits = (t: NamedTensor) => new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);

test('init → save → load → BertModel → save is bit-exact, with HF names and [out, in] dense weights', async () => {
  const tf = await getTf();
  const config = tinyConfig();
  const tensors = initBertTensors(config, 7);
  const dir = join(await mkdtemp(join(tmpdir(), 'dprep-ckpt-')), 'model');
  await writeModelDir(dir, config, tensors, VOCAB);
  const loaded = await readModelDir(dir);
  const model = new BertModel(tf, loaded.config, loaded.tensors);
  const back = await model.toTensors();
  assert.deepEqual([...back.keys()].sort(), [...tensors.keys()].sort());
  for (const [name, t] of tensors) {
    assert.deepEqual(back.get(name)!.shape, t.shape, name);
    assert.deepEqual(bits(back.get(name)!), bits(t), name);
  }
  assert.deepEqual(tensors.get('encoder.layer.0.intermediate.dense.weight')!.shape, [16, 8]);
  model.dispose();
});

test('random init: seeded, truncated at 2σ, LayerNorm 1/0, padding row zero', () => {
  const config = tinyConfig({ initializer_range: 0.02 });
  const a = initBertTensors(config, 3);
  const b = initBertTensors(config, 3);
  const c = initBertTensors(config, 4);
  const w = a.get('encoder.layer.0.attention.self.query.weight')!.data;
  assert.deepEqual(w, b.get('encoder.layer.0.attention.self.query.weight')!.data);
  assert.notDeepEqual(w, c.get('encoder.layer.0.attention.self.query.weight')!.data);
  assert.ok(w.every((v) => Math.abs(v) <= 0.04 + 1e-7));
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(std > 0.014 && std < 0.02, `std ${std}`); // truncated normal: 0.88σ
  assert.ok(a.get('embeddings.LayerNorm.weight')!.data.every((v) => v === 1));
  assert.ok(a.get('encoder.layer.0.output.dense.bias')!.data.every((v) => v === 0));
  assert.ok(a.get('embeddings.word_embeddings.weight')!.data.subarray(0, 8).every((v) => v === 0));
});

/** A model dir whose safetensors holds `tensors` under their given names. */
async function dirWith(tensors: Map<string, NamedTensor>, config = tinyConfig()): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-ckpt-'));
  await writeFile(join(dir, 'config.json'), bertConfigJson(config));
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  await copyFile(join(VOCAB, 'vocab.txt'), join(dir, 'vocab.txt'));
  return dir;
}

test("DPR checkpoints load: question_encoder.bert_model.* / ctx_encoder.bert_model.* by role", async () => {
  const q = initBertTensors(tinyConfig(), 1, false);
  const p = initBertTensors(tinyConfig(), 2, false);
  const both = new Map<string, NamedTensor>();
  for (const [k, v] of q) both.set(`question_encoder.bert_model.${k}`, v);
  for (const [k, v] of p) both.set(`ctx_encoder.bert_model.${k}`, v);
  const dir = await dirWith(both);
  const asQuery = await readModelDir(dir, 'query');
  const asPassage = await readModelDir(dir, 'passage');
  assert.deepEqual(asQuery.tensors.get('embeddings.word_embeddings.weight')!.data, q.get('embeddings.word_embeddings.weight')!.data);
  assert.deepEqual(asPassage.tensors.get('embeddings.word_embeddings.weight')!.data, p.get('embeddings.word_embeddings.weight')!.data);
  const bertPrefixed = new Map([...q].map(([k, v]) => [`bert.${k}`, v]));
  assert.equal((await readModelDir(await dirWith(bertPrefixed))).tensors.size, q.size);
});

test('missing and mis-shaped tensors are named', async () => {
  const t = initBertTensors(tinyConfig(), 1, false);
  t.delete('encoder.layer.0.output.LayerNorm.bias');
  await assert.rejects(readModelDir(await dirWith(t)), /missing: encoder\.layer\.0\.output\.LayerNorm\.bias/);
  const u = initBertTensors(tinyConfig(), 1, false);
  u.set('encoder.layer.0.intermediate.dense.weight', { shape: [8, 16], data: new Float32Array(128) });
  await assert.rejects(readModelDir(await dirWith(u)), /tensor "encoder\.layer\.0\.intermediate\.dense\.weight".*expected \[16,8\].*got \[8,16\]/);
  await assert.rejects(readModelDir(join(PARITY, 'no-such-dir')), /config\.json/);
});
