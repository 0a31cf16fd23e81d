/**
 * Model dirs as readers open them: weights from pytorch_model.bin as from safetensors, every bad
 * tensor named in one error, and sentence-transformers dirs embedding with their own settings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { loadEncoder } from '../../src/trainer/encoder.ts';
import { readModelDir, writeModelDir } from '../../src/trainer/checkpoint.ts';
import { readEncoderConfig } from '../../src/trainer/config.ts';
import { initEncoderTensors } from '../../src/trainer/families.ts';
import { writeSafetensors, type NamedTensor } from '../../src/trainer/safetensors.ts';
import { readTorchBin } from '../../src/trainer/torch-bin.ts';
import { writeSentenceTransformersFiles } from '../../src/trainer/st-dir.ts';
import { InputError } from '../../src/util/errors.ts';
import { TEST_BACKEND } from './_helpers.ts';

const tmp = await mkdtemp(join(tmpdir(), 'dprep-modeldir-'));
// The TinyBert of test/trainer/reference/make_torch_bin.py: vocab 12, hidden 4, 1 layer, intermediate 8, 6 positions.
const BIN_CONFIG = {
  model_type: 'bert', architectures: ['BertModel'], vocab_size: 12, hidden_size: 4, num_hidden_layers: 1, num_attention_heads: 2,
  intermediate_size: 8, max_position_embeddings: 6, type_vocab_size: 2, hidden_act: 'gelu', layer_norm_eps: 1e-12, pad_token_id: 0,
};
const BIN_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'a', 'b', 'c', 'd', 'e', 'f'];
const INPUTS = [{ text: 'a b c' }, { text: 'the f', title: 'd' }, { text: 'e' }];

async function binDir(name: string): Promise<string> {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(BIN_CONFIG));
  await writeFile(join(dir, 'vocab.txt'), BIN_VOCAB.join('\n') + '\n');
  return dir;
}

async function vectors(dir: string, opts: Parameters<typeof loadEncoder>[1] = {}): Promise<Float32Array> {
  const enc = await loadEncoder(dir, { backend: TEST_BACKEND, log: () => {}, ...opts });
  try {
    return await enc.encode(INPUTS);
  } finally {
    enc.dispose();
  }
}

test('a model dir holding only pytorch_model.bin loads and embeds exactly as the same weights in model.safetensors', async () => {
  const bin = await binDir('bin');
  await copyFile(join(FIXTURES, 'trainer', 'torch-bin', 'bert.bin'), join(bin, 'pytorch_model.bin'));
  const st = await binDir('st');
  await writeSafetensors(join(st, 'model.safetensors'), (await readTorchBin(join(bin, 'pytorch_model.bin'))).tensors);
  const fromBin = await vectors(bin);
  assert.equal(fromBin.length, INPUTS.length * 4);
  assert.ok(fromBin.every(Number.isFinite));
  assert.notDeepEqual(fromBin.subarray(0, 4), fromBin.subarray(4, 8), 'different inputs, different vectors');
  assert.deepEqual(fromBin, await vectors(st));
  // The pooler is loaded when present, as BertModel has it.
  assert.ok((await readModelDir(bin)).tensors.has('pooler.dense.weight'));
});

test('missing, unexpected, mis-shaped and non-finite tensors are named in one error; other heads are not', async () => {
  const tensors = new Map((await readTorchBin(join(FIXTURES, 'trainer', 'torch-bin', 'bert.bin'))).tensors);
  tensors.delete('encoder.layer.0.output.LayerNorm.bias');
  tensors.set('encoder.layer.0.intermediate.dense.weight', { shape: [4, 8], data: new Float32Array(32) });
  tensors.set('encoder.layer.1.output.dense.weight', { shape: [4, 8], data: new Float32Array(32) }); // a layer the config lacks
  const bad: NamedTensor = { shape: [4], data: new Float32Array([1, NaN, 0, 0]) };
  tensors.set('embeddings.LayerNorm.weight', bad);
  tensors.set('cls.predictions.bias', { shape: [12], data: new Float32Array(12) }); // the MLM head: ignored
  const dir = await binDir('bad');
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  await assert.rejects(readModelDir(dir), (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.file, join(dir, 'model.safetensors'));
    assert.match(err.message, /missing: encoder\.layer\.0\.output\.LayerNorm\.bias/);
    assert.match(err.message, /unexpected: encoder\.layer\.1\.output\.dense\.weight/);
    assert.match(err.message, /tensor "encoder\.layer\.0\.intermediate\.dense\.weight": expected \[8,4\] from config\.json, got \[4,8\]/);
    assert.match(err.message, /non-finite values in embeddings\.LayerNorm\.weight: NaN at flat index 1/);
    assert.doesNotMatch(err.message, /cls\.predictions/);
    return true;
  });
  const empty = await binDir('empty');
  await assert.rejects(readModelDir(empty), /no model weights: looked for model\.safetensors, pytorch_model\.bin/);
});

test('a sentence-transformers dir embeds with its pooling, Normalize module and prompts; explicit options win', async () => {
  const config = await readEncoderConfig(join(FIXTURES, 'models', 'bert-tiny', 'config.json'));
  const plain = join(tmp, 'tiny');
  await writeModelDir(plain, config, initEncoderTensors(config, 5), join(FIXTURES, 'models', 'bert-tiny'));
  const stDir = join(tmp, 'tiny-st');
  await cp(plain, stDir, { recursive: true });
  await writeSentenceTransformersFiles(stDir, { pooling: 'mean', normalize: true, dimension: 128, maxLength: 32, queryPrefix: 'query: ', passagePrefix: 'passage: ' });
  const query = await loadEncoder(stDir, { backend: TEST_BACKEND, role: 'query' });
  assert.deepEqual([query.pooling, query.normalize, query.template, query.maxLength], ['mean', true, 'query: {text}', 32]);
  const v = await query.encode(INPUTS);
  query.dispose();
  for (let i = 0; i < INPUTS.length; i++) {
    const norm = Math.hypot(...v.subarray(i * 128, (i + 1) * 128));
    assert.ok(Math.abs(norm - 1) < 1e-5, `row ${i} has norm ${norm}`);
  }
  // The same as the plain dir told the same things explicitly.
  assert.deepEqual(v, await vectors(plain, { role: 'query', pooling: 'mean', normalize: true, queryTemplate: 'query: {text}', maxLength: 32 }));
  const passage = await loadEncoder(stDir, { backend: TEST_BACKEND, role: 'passage' });
  assert.equal(passage.template, 'passage: {title} {text}');
  passage.dispose();
  // An explicit pooling and template beat the dir's.
  const cls = await vectors(stDir, { role: 'query', pooling: 'cls', queryTemplate: '{text}' });
  assert.notDeepEqual(cls, v);
  assert.deepEqual(cls, await vectors(plain, { role: 'query', pooling: 'cls', normalize: true, queryTemplate: '{text}', maxLength: 32 }));
  await assert.rejects(loadEncoder(stDir, { backend: TEST_BACKEND, queryTemplate: 'query: {txt}' }), /--query-template: unknown field \{txt\}/);
});
