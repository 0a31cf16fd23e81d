import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { BertModel, initBertTensors } from '../../src/trainer/bert.ts';
import { exportEncoders, readModelDir, saveCheckpoint, writeModelDir } from '../../src/trainer/checkpoint.ts';
import { bertConfigJson } from '../../src/trainer/config.ts';
import { encodeSafetensors, readSafetensors, type NamedTensor } from '../../src/trainer/safetensors.ts';
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

test('a training checkpoint is replaced whole (encoders, optimizer, state), and the export adds how each encoder embeds', async () => {
  const config = tinyConfig();
  const out = await mkdtemp(join(tmpdir(), 'dprep-ckpt-'));
  const encoders = (seed: number) => ({
    query: { config, tensors: initBertTensors(config, seed), tokenizerFrom: VOCAB },
    passage: { config, tensors: initBertTensors(config, seed + 1), tokenizerFrom: VOCAB },
  });
  const moments = (v: number) => new Map([['m/x', { shape: [2], data: new Float32Array([v, v]) }]]);
  await saveCheckpoint(join(out, 'last'), encoders(1), { optimizer: moments(1), state: { step: 1 } });
  await saveCheckpoint(join(out, 'last'), encoders(3), { optimizer: moments(2), state: { step: 2 } });
  await saveCheckpoint(join(out, 'best'), encoders(3));
  // Only the final directories remain: no temp or set-aside copies.
  assert.deepEqual((await readdir(out)).sort(), ['best', 'last']);
  assert.deepEqual((await readdir(join(out, 'best'))).sort(), ['passage_encoder', 'query_encoder']);
  assert.equal(JSON.parse(await readFile(join(out, 'last', 'trainer_state.json'), 'utf8')).step, 2);
  assert.deepEqual([...(await readSafetensors(join(out, 'last', 'optimizer.safetensors'))).tensors.get('m/x')!.data], [2, 2]);
  const word = 'embeddings.word_embeddings.weight';
  assert.deepEqual((await readModelDir(join(out, 'last', 'passage_encoder'))).tensors.get(word)!.data, initBertTensors(config, 4).get(word)!.data);

  const settings = (max_length: number) => ({ pooling: 'mean' as const, normalize: true, embed_title: false, max_length });
  await exportEncoders(out, 'best', { query: settings(24), passage: settings(64) });
  await exportEncoders(out, 'last', { query: settings(24), passage: settings(64) });
  assert.deepEqual((await readdir(out)).sort(), ['best', 'last', 'passage_encoder', 'query_encoder']);
  assert.deepEqual(JSON.parse(await readFile(join(out, 'passage_encoder', 'dprep_encoder.json'), 'utf8')), settings(64));
  assert.equal(JSON.parse(await readFile(join(out, 'query_encoder', 'dprep_encoder.json'), 'utf8')).max_length, 24);
  assert.deepEqual((await readModelDir(join(out, 'query_encoder'))).tensors.get(word)!.data, initBertTensors(config, 3).get(word)!.data);
  await assert.rejects(exportEncoders(out, 'absent', { query: settings(24), passage: settings(64) }), /ENOENT/);
  assert.ok((await readModelDir(join(out, 'query_encoder'))).tensors.has(word), 'a failed export leaves the previous encoders');
});
