/** Per family: seeded HF init, save layout → name normaliser → model → tensors round trips bit-exact. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEncoderConfig, type EncoderConfig } from '../../src/trainer/config.ts';
import { createEncoderModel, initEncoderTensors, maxSequenceLength, readFamilyTensors, tensorShapes, toHfLayout, type Role } from '../../src/trainer/families.ts';
import { getTf } from './_helpers.ts';

const bertLike = { vocab_size: 30, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 20, initializer_range: 0.2 };
export const TINY: Record<string, EncoderConfig> = {
  bert: parseEncoderConfig(bertLike, 'bert'),
  roberta: parseEncoderConfig({ ...bertLike, model_type: 'roberta', type_vocab_size: 1, layer_norm_eps: 1e-5 }, 'roberta'),
  dpr: parseEncoderConfig({ ...bertLike, model_type: 'dpr', projection_dim: 4 }, 'dpr'),
  distilbert: parseEncoderConfig({ vocab_size: 30, dim: 8, n_layers: 2, n_heads: 2, hidden_dim: 16, max_position_embeddings: 20, initializer_range: 0.2, model_type: 'distilbert' }, 'distilbert'),
  t5: parseEncoderConfig({ vocab_size: 30, d_model: 8, d_kv: 3, d_ff: 16, num_layers: 2, num_heads: 2, model_type: 't5', feed_forward_proj: 'gated-gelu' }, 't5'),
};

/** The HF name of one tensor per family's own save layout. */
const SAVED_AS: Record<string, [Role, string]> = {
  bert: ['query', 'encoder.layer.1.output.dense.weight'],
  roberta: ['query', 'encoder.layer.1.output.dense.weight'],
  dpr: ['passage', 'ctx_encoder.encode_proj.weight'],
  distilbert: ['query', 'transformer.layer.1.ffn.lin2.weight'],
  t5: ['query', 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'],
};

for (const [family, config] of Object.entries(TINY)) {
  test(`${family}: seeded init → HF layout → loader → model → tensors is bit-exact`, async () => {
    const tf = await getTf();
    const init = initEncoderTensors(config, 7);
    assert.deepEqual([...initEncoderTensors(config, 7).values()].map((t) => t.data), [...init.values()].map((t) => t.data));
    assert.notDeepEqual([...initEncoderTensors(config, 8).values()][0].data, [...init.values()][0].data);
    for (const [name, shape] of tensorShapes(config)) assert.deepEqual(init.get(name)?.shape, shape, name);
    const [role, hfName] = SAVED_AS[family];
    const saved = toHfLayout(config, init, role);
    assert.ok(saved.has(hfName), `${hfName} in ${[...saved.keys()].slice(0, 3)}`);
    const { tensors, ignored } = readFamilyTensors(config, saved, 'saved', role);
    assert.deepEqual(ignored, []);
    const model = createEncoderModel(tf, config, tensors);
    const back = await model.toTensors();
    assert.deepEqual([...back.keys()].sort(), [...init.keys()].sort());
    for (const [k, t] of init) assert.deepEqual(back.get(k)!.data, t.data, k);
    const batch = { ids: Int32Array.from([2, 5, 9, 3, 2, 4, 0, 0]), typeIds: new Int32Array(8), mask: Int32Array.from([1, 1, 1, 1, 1, 1, 0, 0]), batch: 2, seqLen: 4 };
    const v = tf.tidy(() => model.embed(batch, 'cls', true));
    assert.deepEqual(v.shape, [2, model.dim]);
    assert.ok([...(await v.data())].every(Number.isFinite));
    v.dispose();
    model.dispose();
  });
}

test('RoBERTa init zeroes the padding_idx rows of the word and position embeddings (HF nn.Embedding(padding_idx))', () => {
  const c = TINY.roberta;
  const t = initEncoderTensors(c, 3);
  const H = c.hidden_size;
  for (const name of ['embeddings.word_embeddings.weight', 'embeddings.position_embeddings.weight']) {
    const data = t.get(name)!.data;
    assert.ok(data.subarray(H, 2 * H).every((x) => x === 0), `${name} row 1`);
    assert.ok(data.subarray(2 * H, 3 * H).some((x) => x !== 0), `${name} row 2`);
  }
  // HF's RoBERTa init is a plain normal: some weights fall beyond 2σ (BERT's is truncated there).
  const w = t.get('encoder.layer.0.intermediate.dense.weight')!.data;
  assert.ok(w.some((x) => Math.abs(x) > 2 * c.initializer_range));
});

test('T5 init follows HF factors: RMSNorm weights = initializer_factor, q std = (d_model·d_kv)^-½', () => {
  const c = TINY.t5;
  const t = initEncoderTensors(c, 3);
  assert.ok(t.get('encoder.final_layer_norm.weight')!.data.every((x) => x === 1));
  const q = t.get('encoder.block.0.layer.0.SelfAttention.q.weight')!.data;
  const std = Math.sqrt(q.reduce((s, x) => s + x * x, 0) / q.length);
  assert.ok(Math.abs(std - (8 * 3) ** -0.5) < 0.08, `q std ${std}`);
});

test('longest input per family: RoBERTa positions start after padding_idx', async () => {
  const tf = await getTf();
  assert.equal(maxSequenceLength(parseEncoderConfig({ ...bertLike, model_type: 'roberta', max_position_embeddings: 514 }, 'r')), 512);
  assert.equal(maxSequenceLength(TINY.bert), 20);
  const c = TINY.roberta; // 20 positions, pad 1: 18 tokens fit, 19 do not
  const model = createEncoderModel(tf, c, initEncoderTensors(c, 1));
  const batchOfLength = (L: number) => ({ ids: new Int32Array(L).fill(5), typeIds: new Int32Array(L), mask: new Int32Array(L).fill(1), batch: 1, seqLen: L });
  tf.tidy(() => model.forward(batchOfLength(maxSequenceLength(c))));
  assert.throws(() => tf.tidy(() => model.forward(batchOfLength(maxSequenceLength(c) + 1))), /max_position_embeddings 20/);
  model.dispose();
});

test('a DPR encoder with a projection is saved in DPR\'s HF layout per role and loads back', async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const { readFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { readModelDir, writeModelDir } = await import('../../src/trainer/checkpoint.ts');
  const { readSafetensors } = await import('../../src/trainer/safetensors.ts');
  const { FIXTURES } = await import('../_paths.ts');
  const c = TINY.dpr;
  const init = initEncoderTensors(c, 5);
  const dir = join(await mkdtemp(join(tmpdir(), 'dprep-dpr-')), 'passage_encoder');
  await writeModelDir(dir, c, init, join(FIXTURES, 'models', 'bert-tiny'), 'passage');
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual([config.model_type, config.architectures[0], config.projection_dim], ['dpr', 'DPRContextEncoder', 4]);
  const names = [...(await readSafetensors(join(dir, 'model.safetensors'))).tensors.keys()];
  assert.ok(names.includes('ctx_encoder.encode_proj.weight') && names.includes('ctx_encoder.bert_model.embeddings.word_embeddings.weight'), names.slice(0, 3).join());
  const back = await readModelDir(dir, 'passage');
  assert.deepEqual(back.ignored, []);
  for (const [k, t] of init) assert.deepEqual(back.tensors.get(k)!.data, t.data, k);
});
