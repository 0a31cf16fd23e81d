import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { BiEncoder } from '../../src/trainer/biencoder.ts';
import { initBertTensors } from '../../src/trainer/bert.ts';
import { dprLoss, positiveRanks } from '../../src/trainer/loss.ts';
import type { TextTokenizer } from '../../src/trainer/tokenizer.ts';
import type { BiEncoderBatch } from '../../src/trainer/data.ts';
import { getTf, maxAbsDiff, tinyConfig } from './_helpers.ts';

/** Characters → ids 4..59 with [CLS]=2, [SEP]=3: enough structure for gradients, no vocab file. */
const charTokenizer = (maxLength: number): TextTokenizer => ({
  maxLength,
  async encode(inputs) {
    return inputs.map(({ text, title }) => {
      const ids = (s: string) => [...s].map((c) => 4 + (c.charCodeAt(0) % 56));
      const a = title === undefined ? ids(text) : ids(title);
      const b = title === undefined ? [] : ids(text);
      const all = title === undefined ? [2, ...a, 3] : [2, ...a, 3, ...b, 3];
      const types = title === undefined ? all.map(() => 0) : all.map((_, i) => (i <= a.length + 1 ? 0 : 1));
      return { ids: all.slice(0, maxLength), typeIds: types.slice(0, maxLength) };
    });
  },
});

const BATCH: BiEncoderBatch = {
  questions: [{ text: 'who won?' }, { text: 'where is it' }, { text: 'when' }, { text: 'why not then' }],
  passages: [
    { text: 'the broncos won' }, { text: 'a hard negative' },
    { text: 'it is in paris', title: 'Paris' }, { text: 'somewhere else' },
    { text: 'in 1990' }, { text: 'never at all' },
    { text: 'because of rain' }, { text: 'no reason given here' },
  ],
  positiveIndex: [0, 2, 4, 6],
};

async function makeModel(shared = false) {
  const tf = await getTf();
  const config = tinyConfig({ initializer_range: 0.5 });
  const tensors = { query: initBertTensors(config, 11), passage: initBertTensors(config, 12) };
  return new BiEncoder(tf, { query: config, passage: config }, tensors, { query: charTokenizer(16), passage: charTokenizer(24) }, { pooling: 'cls', normalize: false, shared });
}

test('DPR loss equals the softmax NLL computed by hand; ranks are 0-based', async () => {
  const tf = await getTf();
  const q = [[1, 0], [0, 2]];
  const p = [[1, 1], [0, 1], [2, 0]];
  const pos = [2, 1];
  const loss = tf.tidy(() => dprLoss(tf, tf.tensor2d(q) as Tensor2D, tf.tensor2d(p) as Tensor2D, pos)).dataSync()[0];
  let want = 0;
  for (let i = 0; i < 2; i++) {
    const s = p.map((pj) => pj[0] * q[i][0] + pj[1] * q[i][1]);
    want += -(s[pos[i]] - Math.log(s.reduce((z, v) => z + Math.exp(v), 0)));
  }
  assert.ok(Math.abs(loss - want / 2) < 1e-6, `${loss} vs ${want / 2}`);
  assert.deepEqual(positiveRanks(Float32Array.from([1, 3, 2, 5, 5, 0]), 2, 3, [2, 0]), [1, 1]);
});

test('DPR loss of one question over one passage (a replica given a single question) is 0, not an error', async () => {
  const tf = await getTf();
  const loss = tf.tidy(() => dprLoss(tf, tf.tensor2d([[0.5, -2]]) as Tensor2D, tf.tensor2d([[3, 1]]) as Tensor2D, [0])).dataSync()[0];
  assert.ok(loss === 0, `loss ${loss}`); // -0 from the negated sum is 0
});

test('gradient check: tape gradients of the full bi-encoder loss match central differences', async () => {
  const tf = await getTf();
  const model = await makeModel();
  const { loss, grads } = await model.lossAndGrads(BATCH, 4, 1);
  const master = await model.masterWeights();
  const probes: [string, number][] = [
    ['query/embeddings.word_embeddings.weight', 4 + ('w'.charCodeAt(0) % 56)],
    ['passage/embeddings.word_embeddings.weight', 8 * (4 + ('t'.charCodeAt(0) % 56)) + 3],
    ['passage/embeddings.token_type_embeddings.weight', 8 + 5],
    ['query/embeddings.position_embeddings.weight', 9],
    ['query/encoder.layer.0.attention.self.key.weight', 13],
    ['passage/encoder.layer.0.intermediate.dense.weight', 40],
    ['passage/encoder.layer.0.output.LayerNorm.bias', 2],
    ['query/embeddings.LayerNorm.weight', 6],
  ];
  const h = 1e-2;
  for (const [key, idx] of probes) {
    const w = master.get(key)!;
    const orig = w[idx];
    const at = async (v: number) => {
      w[idx] = v;
      model.assign(new Map([[key, w]]));
      return (await model.lossAndGrads(BATCH, 4, 1)).loss;
    };
    const numeric = ((await at(orig + h)) - (await at(orig - h))) / (2 * h);
    await at(orig);
    const analytic = grads.get(key)![idx];
    assert.ok(Math.abs(analytic - numeric) <= 2e-3 + 0.03 * Math.abs(numeric), `${key}[${idx}]: tape ${analytic} vs numeric ${numeric}`);
  }
  assert.ok(Number.isFinite(loss));
  const unused = grads.get('query/embeddings.word_embeddings.weight')!.subarray(0, 8);
  assert.ok(unused.every((g) => g === 0), 'rows of tokens not in the batch get zero gradient');
  model.dispose();
  void tf;
});

/** BATCH with false negatives masked: question 1's row at passages 0 and 5, question 3's at 1 (flat i·8 + j). */
const MASKED_BATCH: BiEncoderBatch = { ...BATCH, masked: [1 * 8 + 0, 1 * 8 + 5, 3 * 8 + 1] };

for (const [label, batch] of [['', BATCH], [', false negatives masked', MASKED_BATCH]] as const) {
test(`gradient accumulation (GradCache) equals one pass over the larger batch${label}`, async () => {
  const model = await makeModel();
  const full = await model.lossAndGrads(batch, 4, 5);
  if (batch.masked) assert.notEqual(full.loss, (await model.lossAndGrads(BATCH, 4, 5)).loss, 'the mask changes the loss');
  for (const micro of [2, 1]) {
    const acc = await model.lossAndGrads(batch, micro, 5);
    assert.ok(Math.abs(acc.loss - full.loss) < 1e-5, `micro ${micro}: loss ${acc.loss} vs ${full.loss}`);
    for (const [key, g] of full.grads) {
      const d = maxAbsDiff(acc.grads.get(key)!, g);
      assert.ok(d < 1e-5, `micro ${micro}: ${key} differs by ${d}`);
    }
  }
  model.dispose();
});
}

test('shared encoder: one set of parameters receives both sides\' gradients', async () => {
  const model = await makeModel(true);
  const { grads } = await model.lossAndGrads(BATCH, 4, 1);
  assert.ok([...grads.keys()].every((k) => k.startsWith('shared/')));
  assert.ok(grads.get('shared/embeddings.token_type_embeddings.weight')!.subarray(8).some((g) => g !== 0), 'type 1 (title pair) gets gradient');
  model.dispose();
});

test('a training step leaves no tensors behind (one pass and GradCache, dropout on)', async () => {
  const tf = await getTf();
  const config = tinyConfig({ initializer_range: 0.5, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
  const tensors = { query: initBertTensors(config, 11), passage: initBertTensors(config, 12) };
  const model = new BiEncoder(tf, { query: config, passage: config }, tensors, { query: charTokenizer(16), passage: charTokenizer(24) }, { pooling: 'cls', normalize: false, shared: false });
  await model.lossAndGrads(BATCH, 4, 1); // first call: kernels set up
  const before = tf.memory().numTensors;
  for (const micro of [4, 2]) await model.lossAndGrads(BATCH, micro, 2);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});
