/**
 * Length bucketing in corpus encoding: windows of global row positions that never cross a shard
 * file, batches sorted by token length inside a window, vectors written back in corpus order.
 * What holds: vectors match an unbucketed encode to float rounding (a row's padded length
 * changes), a rerun and a resume give the same bytes, and ids stay in corpus order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { encodeCorpus, windowOf } from '../../src/search/vector/encode.ts';
import { readEmbeddingShards, readEmbeddingsManifest } from '../../src/io/embeddings.ts';
import { bucketBatches, loadEncoder } from '../../src/trainer/encoder.ts';
import { writeModelDir } from '../../src/trainer/checkpoint.ts';
import { readEncoderConfig } from '../../src/trainer/config.ts';
import { initEncoderTensors } from '../../src/trainer/families.ts';
import type { EncodeInput, Encoder, Passage } from '../../src/types.ts';
import { maxAbsDiff, TEST_BACKEND } from '../trainer/_helpers.ts';
import { fakeEncoder } from './_fake-encoder.ts';

const tmp = await mkdtemp(join(tmpdir(), 'dprep-bucketing-'));
const WORDS = 'the a river city king war music church school team light water north paris french art law army system power'.split(' ');
// Lengths from 1 to ~40 words, in no order.
const passages: Passage[] = Array.from({ length: 37 }, (_, i) => ({
  passage_id: `p${i}`,
  title: `T${i % 3}`,
  text: Array.from({ length: 1 + ((i * 17) % 41) }, (_, j) => WORDS[(i + j * 7) % WORDS.length]).join(' '),
}));
async function* stream(list: Passage[], failAfter?: number): AsyncGenerator<Passage> {
  for (const [i, p] of list.entries()) {
    if (failAfter !== undefined && i === failAfter) throw new Error('killed');
    yield p;
  }
}
async function shardBytes(dir: string): Promise<Buffer[]> {
  const m = await readEmbeddingsManifest(dir);
  return Promise.all(m.shards.flatMap((s) => [readFile(join(dir, s.file)), readFile(join(dir, s.ids))]));
}
async function readAll(dir: string) {
  const ids: string[] = [];
  const parts: Float32Array[] = [];
  for await (const s of readEmbeddingShards(dir)) {
    ids.push(...s.ids);
    parts.push(s.vectors);
  }
  return { ids, vectors: Float32Array.from(parts.flatMap((p) => [...p])) };
}

// The same weights twice (one tfjs variable set per dir).
const config = await readEncoderConfig(join(FIXTURES, 'models', 'bert-tiny', 'config.json'));
for (const name of ['bucketed', 'plain']) await writeModelDir(join(tmp, name), config, initEncoderTensors(config, 3, false), join(FIXTURES, 'models', 'bert-tiny'), 'passage');
const open = (bucketing: boolean) => loadEncoder(join(tmp, bucketing ? 'bucketed' : 'plain'), { backend: TEST_BACKEND, maxLength: 64, batchSize: 4, bucketing, role: 'passage', log: () => {} });

test('bucketBatches sorts by length (ties in input order), pads each batch to its own longest, and counts both paddings', () => {
  const plan = bucketBatches([5, 1, 4, 2, 4], 2, true);
  assert.deepEqual(plan.batches, [[1, 3], [2, 4], [0]]);
  assert.equal(plan.tokens, 16);
  assert.equal(plan.padded, 2 * 2 + 2 * 4 + 5);
  assert.equal(plan.paddedInOrder, 2 * 5 + 2 * 4 + 4);
  const flat = bucketBatches([5, 1, 4, 2, 4], 2, false);
  assert.deepEqual(flat.batches, [[0, 1], [2, 3], [4]]);
  assert.equal(flat.padded, flat.paddedInOrder);
});

test('windows are [shardStart + j·W, …) clipped to the shard: a function of the row position alone', () => {
  assert.deepEqual(windowOf(0, 10, 4), { start: 0, end: 4 });
  assert.deepEqual(windowOf(9, 10, 4), { start: 8, end: 10 });
  assert.deepEqual(windowOf(10, 10, 4), { start: 10, end: 14 });
  assert.deepEqual(windowOf(23, 10, 4), { start: 20, end: 24 });
  assert.deepEqual(windowOf(29, 10, 4), { start: 28, end: 30 });
  assert.deepEqual(windowOf(250, 100, 32), { start: 232, end: 264 });
  assert.deepEqual(windowOf(297, 100, 32), { start: 296, end: 300 });
});

test('encodeCorpus hands the encoder whole windows that never cross a shard file, resumed or not', async () => {
  const recording = (): Encoder & { sizes: number[] } => {
    const inner = fakeEncoder(8);
    const sizes: number[] = [];
    return { dim: 8, sizes, encode: (inputs: readonly EncodeInput[]) => (sizes.push(inputs.length), inner.encode(inputs)), dispose() {} };
  };
  const enc = recording();
  await encodeCorpus(stream(passages), enc, join(tmp, 'windows'), { shardRows: 10, windowRows: 4 });
  assert.deepEqual(enc.sizes, [4, 4, 2, 4, 4, 2, 4, 4, 2, 4, 3]);
  // Killed at row 23: rows up to the shard boundary at 20 are kept; the resume starts a window there.
  const dir = join(tmp, 'windows-resumed');
  await assert.rejects(encodeCorpus(stream(passages, 23), recording(), dir, { shardRows: 10, windowRows: 4 }), /killed/);
  const again = recording();
  const r = await encodeCorpus(stream(passages), again, dir, { shardRows: 10, windowRows: 4 });
  assert.equal(r.resumed, 20);
  assert.deepEqual(again.sizes, [4, 4, 2, 4, 3]);
});

test('bucketed vectors match an unbucketed encode within 1e-5, in corpus order; rerun and resume give the same bytes', async () => {
  const bucketed = await open(true);
  const plain = await open(false);
  try {
    const opts = { shardRows: 16, windowRows: 12 };
    const a = join(tmp, 'emb-bucketed');
    await encodeCorpus(stream(passages), bucketed, a, opts);
    const flat = join(tmp, 'emb-plain');
    await encodeCorpus(stream(passages), plain, flat, opts);
    const got = await readAll(a);
    const want = await readAll(flat);
    assert.deepEqual(got.ids, passages.map((p) => p.passage_id), 'corpus order');
    assert.equal(got.vectors.length, passages.length * bucketed.dim);
    assert.ok(maxAbsDiff(got.vectors, want.vectors) <= 1e-5, `${maxAbsDiff(got.vectors, want.vectors)}`);
    // Each row is that passage's vector: encoding it alone gives the same up to rounding.
    const alone = await plain.encode([{ title: passages[5].title, text: passages[5].text }]);
    assert.ok(maxAbsDiff(got.vectors.subarray(5 * bucketed.dim, 6 * bucketed.dim), alone) <= 1e-5);
    // Bucketing cut the padding: the fixed corpus has lengths in no order.
    assert.ok(bucketed.stats.padded < bucketed.stats.paddedInOrder, JSON.stringify(bucketed.stats));
    assert.equal(plain.stats.padded, plain.stats.paddedInOrder);
    // A rerun gives the same bytes.
    const b = join(tmp, 'bucketed-again');
    await encodeCorpus(stream(passages), bucketed, b, opts);
    assert.deepEqual(await shardBytes(b), await shardBytes(a));
    // So does a resume after a kill mid-shard.
    const c = join(tmp, 'bucketed-resumed');
    await assert.rejects(encodeCorpus(stream(passages, 21), bucketed, c, opts), /killed/);
    assert.equal((await readEmbeddingsManifest(c)).count, 16);
    const r = await encodeCorpus(stream(passages), bucketed, c, opts);
    assert.equal(r.resumed, 16);
    assert.deepEqual(await shardBytes(c), await shardBytes(a));
  } finally {
    bucketed.dispose();
    plain.dispose();
  }
});

test('replicas: 2 workers give the same bytes as 1 (batches are cut the same; each is one forward pass wherever it runs)', async () => {
  const opts = { shardRows: 16, windowRows: 12 };
  const one = await loadEncoder(join(tmp, 'bucketed'), { backend: TEST_BACKEND, maxLength: 64, batchSize: 4, role: 'passage', log: () => {} });
  const two = await loadEncoder(join(tmp, 'plain'), { backend: TEST_BACKEND, maxLength: 64, batchSize: 4, role: 'passage', workers: 2, log: () => {} });
  try {
    assert.equal(two.workers, 2);
    await encodeCorpus(stream(passages), one, join(tmp, 'workers-1'), opts);
    await encodeCorpus(stream(passages), two, join(tmp, 'workers-2'), opts);
    assert.deepEqual(await shardBytes(join(tmp, 'workers-2')), await shardBytes(join(tmp, 'workers-1')));
  } finally {
    one.dispose();
    two.dispose();
  }
});
