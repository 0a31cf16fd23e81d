import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dprLossAndEmbeddingGrads } from '../../src/trainer/loss.ts';
import { epochOrder, falseNegativePairs, makeBatch, type BiEncoderExample } from '../../src/trainer/data.ts';
import { getTf } from './_helpers.ts';

const ctx = (passage_id: string, text: string, title = 'T') => ({ passage_id, text, title });

test('false-negative pairs: same passage_id, same normalized text, any of the record\'s positives, hard negatives too; never the own positive', () => {
  const examples: BiEncoderExample[] = [
    // q0's second positive (p9) is not the one in the batch, but q2's hard negative is it.
    { question: 'q0', positives: [ctx('p1', 'The  Broncos won.'), ctx('p9', 'Second passage')], hardNegatives: [ctx('n0', 'other')] },
    { question: 'q1', positives: [ctx('p1', 'different text, same id')], hardNegatives: [ctx('n1', 'the broncos\nWON.')] },
    { question: 'q2', positives: [ctx('p3', 'unrelated')], hardNegatives: [ctx('x', 'second passage')] },
  ];
  const batch = makeBatch(examples, [0, 1, 2], { positives: 'first', embedTitle: false, seed: 1, epoch: 0, maskFalseNegatives: true });
  // Columns: 0 p1(q0) 1 n0 2 p1(q1) 3 n1 4 p3(q2) 5 x
  const P = 6;
  const want = [
    [0, 2], // q0: q1's positive has id p1
    [0, 3], // q0: q1's hard negative is q0's positive's text (case and whitespace aside)
    [0, 5], // q0: q2's hard negative is p9's text
    [1, 0], // q1: q0's positive has id p1 (q1's own hard negative n1 is nothing of q1's)
  ].map(([i, j]) => i * P + j).sort((a, b) => a - b);
  assert.deepEqual(batch.masked, want);
  assert.deepEqual(makeBatch(examples, [0, 1, 2], { positives: 'first', embedTitle: false, seed: 1, epoch: 0 }).masked, undefined);
  // A record whose hard negative is its own (other) positive gets that column masked.
  const self: BiEncoderExample[] = [{ question: 'q', positives: [ctx('a', 'x'), ctx('b', 'y')], hardNegatives: [ctx('', 'Y')] }];
  assert.deepEqual(falseNegativePairs(self, [0], [self[0].positives[0], self[0].hardNegatives[0]], [0]), [1]);
});

test('masked loss and embedding gradients equal a reference that removes the masked columns per question (float64 JS)', async () => {
  const tf = await getTf();
  const B = 3, P = 5, H = 4;
  const rnd = (k: number) => Math.sin(k * 12.9898) * 0.9;
  const q = Float32Array.from({ length: B * H }, (_, k) => rnd(k + 1));
  const p = Float32Array.from({ length: P * H }, (_, k) => rnd(k + 50));
  const positiveIndex = [0, 2, 4];
  // Column 3 is masked for every question (its gradient must be exactly zero); others for one question each.
  const masked = [0 * P + 2, 0 * P + 3, 1 * P + 3, 2 * P + 0, 2 * P + 3].sort((a, b) => a - b);
  const { loss, dq, dp } = await dprLossAndEmbeddingGrads(tf, q, p, H, positiveIndex, masked);
  // Reference: per question, the softmax over the columns left.
  let refLoss = 0;
  const refDq = new Float64Array(B * H), refDp = new Float64Array(P * H);
  for (let i = 0; i < B; i++) {
    const cols = [...Array(P).keys()].filter((j) => !masked.includes(i * P + j));
    const s = cols.map((j) => { let v = 0; for (let h = 0; h < H; h++) v += q[i * H + h] * p[j * H + h]; return v; });
    const max = Math.max(...s);
    const z = s.reduce((a, v) => a + Math.exp(v - max), 0);
    refLoss += -(s[cols.indexOf(positiveIndex[i])] - max - Math.log(z)) / B;
    cols.forEach((j, c) => {
      const g = (Math.exp(s[c] - max) / z - (j === positiveIndex[i] ? 1 : 0)) / B; // dL/ds_ij
      for (let h = 0; h < H; h++) {
        refDq[i * H + h] += g * p[j * H + h];
        refDp[j * H + h] += g * q[i * H + h];
      }
    });
  }
  assert.ok(Math.abs(loss - refLoss) < 1e-6, `loss ${loss} vs ${refLoss}`);
  for (let k = 0; k < dq.length; k++) assert.ok(Math.abs(dq[k] - refDq[k]) < 1e-6, `dq[${k}] ${dq[k]} vs ${refDq[k]}`);
  for (let k = 0; k < dp.length; k++) assert.ok(Math.abs(dp[k] - refDp[k]) < 1e-6, `dp[${k}] ${dp[k]} vs ${refDp[k]}`);
  assert.deepEqual(Array.from(dp.subarray(3 * H, 4 * H)), [0, 0, 0, 0], 'a column masked for every question gets exactly zero gradient');
  const unmasked = await dprLossAndEmbeddingGrads(tf, q, p, H, positiveIndex);
  assert.ok(unmasked.loss > loss, 'masking removes terms from each softmax');
  await assert.rejects(dprLossAndEmbeddingGrads(tf, q, p, H, positiveIndex, [B * P]), /outside the 3 × 5/);
});

/** 40 questions over 10 paragraphs (4 each), as SQuAD questions share paragraphs. */
const shared: BiEncoderExample[] = Array.from({ length: 40 }, (_, i) => ({
  question: `q${i}`, positives: [ctx(`para${i % 10}`, `paragraph ${i % 10}`)], hardNegatives: [ctx(`neg${i}`, `negative ${i}`)],
}));
const collides = (ids: number[]) => new Set(ids.map((id) => shared[id].positives[0].passage_id)).size < ids.length;

test('no-duplicates sampler: every record once, batches without a shared positive (greedy: but the leftovers), seeded', () => {
  for (const batch of [4, 8, 10]) {
    const order = epochOrder(shared, { seed: 3, epoch: 1, batch, sampler: 'no-duplicates' });
    assert.deepEqual([...order].sort((a, b) => a - b), shared.map((_, i) => i), 'a permutation');
    // Greedy, like sentence-transformers': at 8 per batch the last 8 records left cover only some paragraphs.
    const last = batch === 8 ? order.length - batch : order.length;
    for (let k = 0; k < last; k += batch) assert.ok(!collides(order.slice(k, k + batch)), `batch ${k / batch} of ${batch} has a shared positive`);
    assert.deepEqual(epochOrder(shared, { seed: 3, epoch: 1, batch, sampler: 'no-duplicates' }), order, 'deterministic');
    assert.notDeepEqual(epochOrder(shared, { seed: 3, epoch: 2, batch, sampler: 'no-duplicates' }), order, 'another epoch, another order');
  }
  const plain = epochOrder(shared, { seed: 3, epoch: 1, batch: 8, sampler: 'shuffle' });
  const batches = (o: number[], b: number) => Array.from({ length: Math.ceil(o.length / b) }, (_, k) => o.slice(k * b, (k + 1) * b));
  assert.ok(batches(plain, 8).some(collides), 'the plain shuffle does collide on this data (the test means something)');
  // More questions per batch than distinct paragraphs: the leftovers still fill full batches (masked by the loss).
  const order = epochOrder(shared, { seed: 3, epoch: 0, batch: 16, sampler: 'no-duplicates' });
  assert.deepEqual([...order].sort((a, b) => a - b), shared.map((_, i) => i));
  for (const b of batches(order, 16).slice(0, 2)) {
    assert.equal(new Set(b.map((id) => shared[id].positives[0].passage_id)).size, 10, 'each batch holds all 10 paragraphs before repeating one');
  }
});

test('validation ranks and NLL use the loss mask: another question\'s identical positive does not outrank the positive', async () => {
  const { positiveRanks } = await import('../../src/trainer/loss.ts');
  // Row 0: the positive (col 0) scores 2; col 1 (3) is masked, col 2 (2, a tie) counts against it.
  assert.deepEqual(positiveRanks(Float32Array.from([2, 3, 2]), 1, 3, [0]), [2]);
  assert.deepEqual(positiveRanks(Float32Array.from([2, 3, 2]), 1, 3, [0], [1]), [1]);

  const { validate } = await import('../../src/trainer/train.ts');
  const { BiEncoder } = await import('../../src/trainer/biencoder.ts');
  const { initBertTensors } = await import('../../src/trainer/bert.ts');
  const { tinyConfig } = await import('./_helpers.ts');
  const tf = await getTf();
  const config = tinyConfig({ initializer_range: 0.5 });
  const chars = { maxLength: 16, async encode(inputs: { text: string }[]) { return inputs.map(({ text }) => { const ids = [2, ...[...text].map((c) => 4 + (c.charCodeAt(0) % 56)), 3].slice(0, 16); return { ids, typeIds: ids.map(() => 0) }; }); } };
  const model = new BiEncoder(tf, { query: config, passage: config }, { query: initBertTensors(config, 1), passage: initBertTensors(config, 2) }, { query: chars, passage: chars }, { pooling: 'cls', normalize: false, shared: false });
  // Two questions over one paragraph (SQuAD-style): each one's positive is the other's column too.
  const dev: BiEncoderExample[] = [
    { question: 'who won the game', positives: [ctx('p1', 'the broncos won')], hardNegatives: [] },
    { question: 'which team won', positives: [ctx('p1', 'the broncos won')], hardNegatives: [] },
  ];
  const o = { embedTitle: false, seed: 1, batchSize: 4 };
  const unmasked = await validate(model, dev, 2, { ...o, maskFalseNegatives: false });
  const masked = await validate(model, dev, 2, { ...o, maskFalseNegatives: true });
  // Unmasked: the identical column ties with the positive (rank 1) and halves its probability.
  assert.equal(unmasked.avgRank, 1);
  assert.ok(Math.abs(unmasked.nll - Math.log(2)) < 1e-6, `nll ${unmasked.nll}`);
  assert.equal(masked.avgRank, 0);
  assert.ok(Math.abs(masked.nll) < 1e-6, `nll ${masked.nll}`);
  assert.equal(masked.top[1], 1);
  model.dispose();
});
