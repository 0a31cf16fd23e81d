import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BiEncoder } from '../../src/trainer/biencoder.ts';
import { initBertTensors } from '../../src/trainer/bert.ts';
import { EmbeddingExchange } from '../../src/trainer/exchange.ts';
import { ReplicaPool } from '../../src/trainer/parallel.ts';
import { loadTf } from '../../src/trainer/backend.ts';
import type { TextTokenizer } from '../../src/trainer/tokenizer.ts';
import type { BiEncoderBatch } from '../../src/trainer/data.ts';
import { maxAbsDiff, TEST_BACKEND, tinyConfig } from './_helpers.ts';

/** Characters → ids 4..59 ([CLS]=2, [SEP]=3); "boom" becomes longer than the model's positions. */
const charTokenizer = (maxLength: number): TextTokenizer => ({
  maxLength,
  async encode(inputs) {
    return inputs.map(({ text }) => {
      const ids = text === 'boom' ? new Array(40).fill(5) : [2, ...[...text].map((c) => 4 + (c.charCodeAt(0) % 56)), 3].slice(0, maxLength);
      return { ids, typeIds: ids.map(() => 0) };
    });
  },
});

const batchOf = (n: number, first = 'q'): BiEncoderBatch => {
  const b: BiEncoderBatch = { questions: [], passages: [], positiveIndex: [] };
  for (let i = 0; i < n; i++) {
    b.questions.push({ text: i === 0 ? first : `question ${'xyz'.slice(0, 1 + (i % 3))} ${i}` });
    b.positiveIndex.push(b.passages.length);
    b.passages.push({ text: `answer passage ${i} ${'abc'.repeat(1 + (i % 4))}` }, { text: `negative ${i}` });
  }
  return b;
};

async function setup(shared = false) {
  const { tf, backend } = await loadTf(TEST_BACKEND);
  const config = tinyConfig({ initializer_range: 0.5 });
  const tensors = { query: initBertTensors(config, 11), passage: initBertTensors(config, 12) };
  const model = new BiEncoder(tf, { query: config, passage: config }, tensors, { query: charTokenizer(16), passage: charTokenizer(24) }, { pooling: 'cls', normalize: false, shared });
  const start = async (count: number) =>
    ReplicaPool.start(tf, count, { backend, configs: { query: config, passage: config }, options: model.opts, tensors, master: await model.masterWeights() });
  return { tf, model, start };
}

/** Difference relative to the largest gradient of the step (some, e.g. key biases, are zero up to rounding). */
const scaleOf = (grads: Map<string, Float32Array>) => Math.max(...[...grads.values()].map((g) => Math.max(...Array.from(g, Math.abs))));
let scale = 1;
const relDiff = (a: Float32Array, b: Float32Array) => maxAbsDiff(a, b) / scale;

/** Pairs masked across shards: question 0's row at question n-1's positive, the last question's at passage 1 (a hard negative). */
const withMask = (b: BiEncoderBatch): BiEncoderBatch => {
  const P = b.passages.length;
  const n = b.questions.length;
  return { ...b, masked: [b.positiveIndex[n - 1], (n - 1) * P + 1] };
};

for (const [label, micro, n, mask] of [
  ['embedding swap (a shard per micro-batch)', 8, 8, false],
  ['GradCache (2 micro-batches per shard)', 2, 8, false],
  ['uneven shards of 2 and 3 questions, swapped', 4, 5, false],
  ['uneven shards of 2 and 3 questions, GradCache', 2, 5, false],
  ['embedding swap, false negatives masked', 8, 8, true],
  ['GradCache, false negatives masked', 2, 8, true],
  ['uneven shards, swapped, false negatives masked', 4, 5, true],
] as const) {
  test(`2 replicas give the whole batch's loss and gradient: ${label}`, async () => {
    const { model, start } = await setup();
    const batch = mask ? withMask(batchOf(n)) : batchOf(n);
    const one = await model.lossAndGrads(batch, 8, 7);
    scale = scaleOf(one.grads);
    const { pool } = await start(2);
    try {
      const two = await pool.lossAndGrads(model, batch, micro, 7);
      assert.ok(Math.abs(two.loss - one.loss) < 1e-5, `loss ${two.loss} vs ${one.loss}`);
      assert.deepEqual([...two.grads.keys()].sort(), [...one.grads.keys()].sort());
      for (const [key, g] of one.grads) assert.ok(relDiff(two.grads.get(key)!, g) < 1e-4, `${key}: relative difference ${relDiff(two.grads.get(key)!, g)}`);
      // The same step again gives the same bits (fixed shards, fixed summation order).
      const copy = new Map([...two.grads].map(([k, v]) => [k, v.slice()]));
      const again = await pool.lossAndGrads(model, batch, micro, 7);
      assert.equal(again.loss, two.loss);
      for (const [key, g] of copy) assert.deepEqual(again.grads.get(key), g, key);
    } finally {
      await pool.close();
    }
  });
}

test('replicas follow the master weights in shared memory; a batch smaller than the pool works', async () => {
  const { model, start } = await setup(true);
  const { pool, master } = await start(3);
  try {
    for (const w of master.values()) for (let i = 0; i < w.length; i++) w[i] *= 0.5;
    pool.weightsChanged();
    model.assign(master);
    const batch = batchOf(2);
    const want = await model.lossAndGrads(batch, 8, 3);
    scale = scaleOf(want.grads);
    const got = await pool.lossAndGrads(model, batch, 8, 3);
    assert.ok(Math.abs(got.loss - want.loss) < 1e-5, `loss ${got.loss} vs ${want.loss}`);
    for (const [key, g] of want.grads) assert.ok(relDiff(got.grads.get(key)!, g) < 1e-4, key);
  } finally {
    await pool.close();
  }
});

test('a replica that fails ends the step with its error instead of leaving the others waiting', async () => {
  const { model, start } = await setup();
  const { pool } = await start(2);
  try {
    // The second shard's first question is too long for the model; the first shard waits at the swap.
    const batch = batchOf(4);
    batch.questions[2] = { text: 'boom' };
    await assert.rejects(pool.lossAndGrads(model, batch, 8, 1), /trainer replica 1: .*exceeds max_position_embeddings/s);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.lossAndGrads(model, batchOf(2), 8, 1), /closed/);
});

test('embedding exchange: rows land where published; waiting ends by arrival, abort or timeout', () => {
  const ex = EmbeddingExchange.create(3, 2, 1);
  ex.publish(1, new Float32Array([5, 6, 7, 8]));
  ex.arriveAndWait();
  assert.deepEqual([...ex.rowsOf(0, 3)], [0, 0, 5, 6, 7, 8]);
  assert.throws(() => ex.publish(2, new Float32Array([1, 2, 3, 4])), /do not fit 3 rows of 2/);
  const aborted = EmbeddingExchange.create(1, 1, 2);
  aborted.abort();
  assert.throws(() => aborted.arriveAndWait(), /another trainer replica failed/);
  const lonely = new EmbeddingExchange(EmbeddingExchange.create(1, 1, 2).buffer, 1, 1, 2, 50);
  assert.throws(() => lonely.arriveAndWait(), /only 1 of 2 trainer replicas arrived within 50 ms/);
});
