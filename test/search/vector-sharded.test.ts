import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddingsWriter } from '../../src/io/embeddings.ts';
import { exactSearch } from '../../src/search/vector/exact.ts';
import { loadFaiss } from '../../src/search/vector/faiss.ts';
import { orderTies, searchEmbeddingShards } from '../../src/search/vector/sharded.ts';
import { mineDense } from '../../src/miners/dense.ts';
import { encodeCorpus } from '../../src/search/vector/encode.ts';
import { readCorpus } from '../../src/io/corpus.ts';
import type { DprRecord } from '../../src/types.ts';
import { fakeEncoder, randomVectors } from './_fake-encoder.ts';

const dim = 24;
const n = 1000;
// Duplicate rows (as duplicate passages give) tie exactly, inside a shard and across shard boundaries.
const matrix = randomVectors(n, dim, 31);
for (const row of [5, 36, 37, 80, 81, 499, 500, 998]) matrix.set(matrix.subarray(4 * dim, 5 * dim), row * dim);
const queries = randomVectors(40, dim, 32);
queries.set(matrix.subarray(4 * dim, 5 * dim), 0); // query 0 scores all duplicates highest, tied
const ids = Array.from({ length: n }, (_, i) => `p${i}`);

async function embeddingsDir(shardRows: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-sharded-'));
  const w = await EmbeddingsWriter.open(dir, { dim, shardRows });
  // Added in uneven batches, as encode does.
  for (let i = 0; i < n; i += 77) await w.add(ids.slice(i, i + 77), matrix.slice(i * dim, Math.min(i + 77, n) * dim));
  await w.finish();
  return dir;
}

const single = await embeddingsDir(n);
const many = await embeddingsDir(37); // 28 shards, the last of 1 row

test('exact JS search shard by shard equals one search over all rows: same ids, same scores, ties to the lower row', async () => {
  const whole = exactSearch(matrix, dim, queries, 25);
  for (const dir of [single, many]) {
    const got = await searchEmbeddingShards(dir, queries, 25, { index: { backend: 'exact' } });
    assert.deepEqual([...got.hits.ids], [...whole.ids]);
    assert.deepEqual([...got.hits.scores], [...whole.scores]);
    for (const row of got.hits.ids) assert.equal(got.rowIds.get(row), `p${row}`);
  }
  // The tied duplicates come back in row order, the lowest rows first.
  const first = whole.ids.subarray(0, 9);
  assert.deepEqual([...first], [4, 5, 36, 37, 80, 81, 499, 500, 998]);
});

test('memory holds one shard: the most rows resident at once is the largest shard, not the corpus', async () => {
  const got = await searchEmbeddingShards(many, queries, 10, { index: { backend: 'exact' } });
  assert.equal(got.shards, 28);
  assert.equal(got.size, n);
  assert.equal(got.peakResidentRows, 37);
  const one = await searchEmbeddingShards(single, queries, 10, { index: { backend: 'exact' } });
  assert.equal(one.peakResidentRows, n);
  // Only the ids of rows in the top-k are kept, not every passage id.
  assert.ok(got.rowIds.size <= 40 * 10, `${got.rowIds.size} ids kept`);
});

test('k above a shard\'s rows and above the corpus: every row once, then -1', async () => {
  const got = await searchEmbeddingShards(many, queries.subarray(0, dim), n + 5, { index: { backend: 'exact' } });
  const rows = [...got.hits.ids].filter((r) => r >= 0);
  assert.equal(new Set(rows).size, n);
  assert.deepEqual([...got.hits.ids.subarray(n)], [-1, -1, -1, -1, -1]);
});

test('captured vectors come from whichever shard holds them', async () => {
  const got = await searchEmbeddingShards(many, queries, 5, { index: { backend: 'exact' }, capture: new Set(['p0', 'p500', 'p999', 'nope']) });
  assert.deepEqual([...got.captured.keys()].sort(), ['p0', 'p500', 'p999']);
  assert.deepEqual([...got.captured.get('p500')!], [...matrix.subarray(500 * dim, 501 * dim)]);
});

test('orderTies puts equal scores in ascending row order and leaves the rest', () => {
  const t = { nq: 1, k: 5, ids: new Int32Array([9, 7, 3, 2, -1]), scores: new Float32Array([1, 0.5, 0.5, 0.2, -Infinity]) };
  orderTies(t);
  assert.deepEqual([...t.ids], [9, 3, 7, 2, -1]);
});

const faiss = loadFaiss();

test('faiss IndexFlatIP shard by shard equals one faiss index over all rows, and the exact JS ids', { skip: faiss ? false : 'faiss-node not built (scripts/build-faiss-node.sh)' }, async () => {
  const one = await searchEmbeddingShards(single, queries, 25, { index: { backend: 'faiss' } });
  const sharded = await searchEmbeddingShards(many, queries, 25, { index: { backend: 'faiss' } });
  assert.match(sharded.description, /faiss IndexFlatIP/);
  assert.deepEqual([...sharded.hits.ids], [...one.hits.ids]);
  assert.deepEqual([...sharded.hits.scores], [...one.hits.scores]);
  // Same neighbours as the JS search, ties included; scores agree to float rounding.
  const js = exactSearch(matrix, dim, queries, 25);
  assert.deepEqual([...sharded.hits.ids], [...js.ids]);
  for (let i = 0; i < js.scores.length; i++) assert.ok(Math.abs(js.scores[i] - sharded.hits.scores[i]) < 1e-5);
  // The shard's vectors plus faiss's copy of them: two shards' rows, never the corpus.
  assert.equal(sharded.peakResidentRows, 2 * 37);
});

test('mine dense writes the same bytes from 1 shard and from many, with faiss and without', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-sharded-mine-'));
  const passages = Array.from({ length: 120 }, (_, i) => ({ passage_id: `d${i}`, title: `T${i % 7}`, text: `topic ${i % 11} word${i % 13} item${i % 5} number ${i}` }));
  const corpus = join(dir, 'corpus.jsonl');
  await writeFile(corpus, passages.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const records: DprRecord[] = passages.slice(0, 30).map((p, i) => ({ dataset: 't', question: `topic ${i % 11} word${i % 13}`, answers: ['zzz'], positive_ctxs: [p], negative_ctxs: [], hard_negative_ctxs: [], id: `q${i}` }));
  const examples = join(dir, 'train.jsonl');
  await writeFile(examples, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const enc = fakeEncoder(16);
  await encodeCorpus(readCorpus(corpus), enc, join(dir, 'emb1'), { batchSize: 32, shardRows: 1000 });
  await encodeCorpus(readCorpus(corpus), enc, join(dir, 'emb9'), { batchSize: 32, shardRows: 9 });
  const outs: string[] = [];
  for (const backend of faiss ? (['exact', 'faiss'] as const) : (['exact'] as const)) {
    for (const emb of ['emb1', 'emb9']) {
      const out = join(dir, `${backend}-${emb}.jsonl`);
      await mineDense({
        examples, corpus, embeddings: join(dir, emb), out, queryEncoder: enc, depth: 40, negatives: 6, skipTop: 1, maxScoreRatio: 0.99,
        strategy: 'top', seed: 3, match: 'string', checkTitle: false, keepExisting: false, index: { backend }, log: () => {},
      });
      outs.push(await readFile(out, 'utf8'));
    }
  }
  assert.ok(outs[0].includes('hard_negative_ctxs'));
  assert.equal(outs[1], outs[0], 'exact: 9-row shards vs one shard');
  // Bag-of-words vectors tie often: faiss and the JS search agree on the order of those ties too.
  // (faiss's scores are summed in another order, so only its own 1-vs-many bytes are compared.)
  if (faiss) assert.equal(outs[3], outs[2], 'faiss: 9-row shards vs one shard');
});
