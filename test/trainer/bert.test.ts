import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { BertModel } from '../../src/trainer/bert.ts';
import { readModelDir } from '../../src/trainer/checkpoint.ts';
import { getTf, maxAbsDiff } from './_helpers.ts';

const PARITY = join(FIXTURES, 'trainer', 'parity');

test('forward pass matches the independent PyTorch BERT reference (fixtures/trainer/parity)', async () => {
  const tf = await getTf();
  const expected = JSON.parse(await readFile(join(PARITY, 'expected.json'), 'utf8'));
  const { config, tensors } = await readModelDir(PARITY);
  const model = new BertModel(tf, config, tensors);
  const B = expected.ids.length;
  const L = expected.ids[0].length;
  const batch = {
    ids: Int32Array.from(expected.ids.flat()), typeIds: Int32Array.from(expected.type_ids.flat()),
    mask: Int32Array.from(expected.mask.flat()), batch: B, seqLen: L,
  };
  const seq = tf.tidy(() => model.forward(batch));
  const got = (await seq.data()) as Float32Array;
  const want = expected.sequence_output.flat(2) as number[];
  // Only non-padding positions are meaningful (HF computes values at padding too, and so do we).
  assert.ok(maxAbsDiff(got, want) < 1e-4, `sequence output differs by ${maxAbsDiff(got, want)}`);
  for (const [pooling, key] of [['cls', 'cls'], ['mean', 'mean']] as const) {
    const pooled = tf.tidy(() => model.embed(batch, pooling, false));
    const diff = maxAbsDiff((await pooled.data()) as Float32Array, expected[key].flat());
    assert.ok(diff < 1e-4, `${pooling} pooling differs by ${diff}`);
  }
  const normed = tf.tidy(() => model.embed(batch, 'cls', true));
  const v = (await normed.data()) as Float32Array;
  const norm0 = Math.hypot(...v.slice(0, config.hidden_size));
  assert.ok(Math.abs(norm0 - 1) < 1e-5, `normalized norm ${norm0}`);
  model.dispose();
});

test('dropout: same seed gives the same training forward, another seed differs, eval ignores seeds', async () => {
  const tf = await getTf();
  const { config, tensors } = await readModelDir(PARITY);
  const model = new BertModel(tf, { ...config, hidden_dropout_prob: 0.3 }, tensors);
  const batch = { ids: Int32Array.from([2, 5, 9, 3]), typeIds: new Int32Array(4), mask: Int32Array.from([1, 1, 1, 1]), batch: 1, seqLen: 4 };
  const run = (training: boolean, seed: number) => tf.tidy(() => model.forward(batch, { training, dropoutSeed: seed })).dataSync();
  assert.deepEqual(run(true, 1), run(true, 1));
  assert.ok(maxAbsDiff(run(true, 1), run(true, 2)) > 1e-3);
  assert.deepEqual(run(false, 1), run(false, 2));
  model.dispose();
});
