/**
 * Forward parity per family: each fixture was written by an independent PyTorch reference
 * (test/trainer/reference/*_reference.py) with random weights in the family's real HF layout and
 * token ids from the real tokenizers; dprep loads it through the family registry and must compute
 * the same sequence output and pooled vectors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { readEncoderConfig } from '../../src/trainer/config.ts';
import { readSafetensors } from '../../src/trainer/safetensors.ts';
import { createEncoderModel, readFamilyTensors, type Role } from '../../src/trainer/families.ts';
import { relativePositionBucket } from '../../src/trainer/t5.ts';
import { batchOf, closeness, getTf } from './_helpers.ts';

interface Case {
  dir: string;
  modelType: string;
  role?: Role;
  /** Tensors of other heads (or the other DPR encoder) that loading must leave aside. */
  ignored: string[] | RegExp;
  expected?: string;
  /** Size of the pooled vectors (DPR's projection_dim). */
  dim?: number;
}

const CASES: Case[] = [
  { dir: 'parity-roberta', modelType: 'roberta', ignored: ['lm_head.dense.bias', 'lm_head.dense.weight'] },
  { dir: 'parity-camembert', modelType: 'camembert', ignored: [] },
  { dir: 'parity-distilbert', modelType: 'distilbert', ignored: ['vocab_transform.weight'] },
  { dir: 'parity-dpr', modelType: 'dpr', role: 'query', ignored: /^ctx_encoder\./, expected: 'expected-query.json', dim: 4 },
  { dir: 'parity-t5', modelType: 't5', ignored: ['decoder.final_layer_norm.weight'] },
  { dir: 'parity-t5-relu', modelType: 't5', ignored: ['decoder.final_layer_norm.weight'] },
  { dir: 'parity-dpr', modelType: 'dpr', role: 'passage', ignored: /^question_encoder\./, expected: 'expected-passage.json', dim: 4 },
];

for (const c of CASES) {
  test(`${c.modelType}${c.role ? ` (${c.role})` : ''} forward matches its independent PyTorch reference (fixtures/trainer/${c.dir})`, async () => {
    const tf = await getTf();
    const dir = join(FIXTURES, 'trainer', c.dir);
    const expected = JSON.parse(await readFile(join(dir, c.expected ?? 'expected.json'), 'utf8'));
    const config = await readEncoderConfig(join(dir, 'config.json'));
    assert.equal(config.model_type, c.modelType);
    const file = join(dir, 'model.safetensors');
    const { tensors, ignored } = readFamilyTensors(config, (await readSafetensors(file)).tensors, file, c.role);
    if (Array.isArray(c.ignored)) assert.deepEqual(ignored.sort(), c.ignored);
    else assert.ok(ignored.length > 0 && ignored.every((k) => (c.ignored as RegExp).test(k)), `ignored: ${ignored.slice(0, 4)}`);
    const model = createEncoderModel(tf, config, tensors);
    assert.equal(model.dim, c.dim ?? config.hidden_size);
    const batch = batchOf(expected);
    const seq = tf.tidy(() => model.forward(batch));
    const s = closeness((await seq.data()) as Float32Array, expected.sequence_output.flat(2));
    assert.ok(s.ok, `sequence output off by ${s.worst}× the tolerance`);
    seq.dispose();
    for (const pooling of ['cls', 'mean'] as const) {
      const pooled = tf.tidy(() => model.embed(batch, pooling, false));
      const want = (expected[`${pooling}_projected`] ?? expected[pooling]).flat();
      const r = closeness((await pooled.data()) as Float32Array, want);
      assert.ok(r.ok, `${pooling} pooling off by ${r.worst}× the tolerance`);
      pooled.dispose();
    }
    if (c.modelType === 'roberta' || c.modelType === 'camembert') {
      // Sensitivity: the same weights with BERT's positions (0..L-1) and pads' type rows are not close.
      const asBert = createEncoderModel(tf, { ...config, model_type: 'bert' }, tensors);
      const off = tf.tidy(() => asBert.forward(batch));
      assert.ok(!closeness((await off.data()) as Float32Array, expected.sequence_output.flat(2)).ok, 'BERT positions should not match RoBERTa');
      off.dispose();
      asBert.dispose();
    }
    model.dispose();
  });
}

for (const dir of ['parity-t5', 'parity-t5-relu']) {
  test(`t5 relative position buckets and tape gradients match the reference's (fixtures/trainer/${dir})`, async () => {
    const tf = await getTf();
    const root = join(FIXTURES, 'trainer', dir);
    const expected = JSON.parse(await readFile(join(root, 'expected.json'), 'utf8'));
    const config = await readEncoderConfig(join(root, 'config.json'));
    const buckets = expected.buckets as number[][];
    buckets.forEach((row, q) => row.forEach((b, k) => assert.equal(relativePositionBucket(k - q, config.t5!), b, `bucket of ${k - q}`)));
    const file = join(root, 'model.safetensors');
    const model = createEncoderModel(tf, config, readFamilyTensors(config, (await readSafetensors(file)).tensors, file).tensors);
    const batch = batchOf(expected);
    const R = tf.tensor2d(expected.grad_of.weights); // [B, D]
    const names = Object.keys(expected.grads);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.embed(batch, 'mean', false), R)), names.map((n) => model.params.get(n)!));
    for (const name of names) {
      const v = model.params.get(name)!;
      let g = grads[v.name];
      // Dense kernels are [in, out] here, [out, in] in HF.
      if (name.endsWith('SelfAttention.q.weight')) g = tf.transpose(g);
      const r = closeness((await g.data()) as Float32Array, (expected.grads[name] as number[][] | number[]).flat());
      assert.ok(r.ok, `gradient of ${name} off by ${r.worst}× the tolerance`);
    }
    tf.dispose([value, R, ...Object.values(grads)]);
    model.dispose();
  });
}
