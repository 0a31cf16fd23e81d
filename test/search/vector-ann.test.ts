import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddingsWriter } from '../../src/io/embeddings.ts';
import { annDir, annSpec, openAnnIndex, sampleIndices, searchAnn } from '../../src/search/vector/ann.ts';
import { exactSearch } from '../../src/search/vector/exact.ts';
import { loadFaiss } from '../../src/search/vector/faiss.ts';
import { searchEmbeddings } from '../../src/search/vector/retrieve.ts';
import { randomVectors } from './_fake-encoder.ts';
import { deriveSeed } from '../../src/util/random.ts';

test('index settings are sized from the corpus', () => {
  // 8.8M rows: 4·√n ≈ 11,866 → 2^14 lists; PQ m = dim/8; the training sample capped at 2^24 floats.
  const big = annSpec({ kind: 'ivfpq' }, 8_800_000, 64);
  assert.equal(big.factory, 'IVF16384,PQ8x8np');
  assert.equal(big.nprobe, 1024);
  assert.equal(big.trainRows, 2 ** 24 / 64);
  // Small corpora: at most n/39 lists, so every list has 39 training rows.
  const small = annSpec({ kind: 'ivf' }, 1000, 24);
  assert.equal(small.nlist, 25);
  assert.equal(small.trainRows, 975);
  assert.equal(annSpec({ kind: 'ivfpq' }, 10_000, 100).pqM, 10, 'the largest divisor of dim at most dim/8');
  assert.equal(annSpec({ kind: 'hnsw', hnswM: 16 }, 10, 4).factory, 'HNSW16');
  assert.throws(() => annSpec({ kind: 'ivfpq', pqM: 7 }, 10_000, 64), /must divide/);
});

test('sampleIndices: distinct, in range, ascending, seeded', () => {
  const a = sampleIndices(1000, 100, 5);
  assert.equal(new Set(a).size, 100);
  assert.ok(a.every((x, i) => x >= 0 && x < 1000 && (i === 0 || a[i - 1] < x)));
  assert.deepEqual(sampleIndices(1000, 100, 5), a);
  assert.notDeepEqual(sampleIndices(1000, 100, 6), a);
  assert.deepEqual(sampleIndices(5, 5, 1), [0, 1, 2, 3, 4]);
});

const faiss = loadFaiss();
const skip = faiss ? false : 'faiss-node not built (scripts/build-faiss-node.sh)';

// Clustered vectors (as embeddings are): 40 centres, rows near one of them.
const dim = 32;
const n = 3000;
const centres = randomVectors(40, dim, 41);
const noise = randomVectors(n, dim, 42);
const matrix = new Float32Array(n * dim);
for (let r = 0; r < n; r++) for (let j = 0; j < dim; j++) matrix[r * dim + j] = centres[(r % 40) * dim + j] + 0.3 * noise[r * dim + j];
const queries = new Float32Array(60 * dim);
const qnoise = randomVectors(60, dim, 43);
for (let q = 0; q < 60; q++) for (let j = 0; j < dim; j++) queries[q * dim + j] = centres[((q * 7) % 40) * dim + j] + 0.3 * qnoise[q * dim + j];

async function embeddingsDir(data: Float32Array): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-ann-'));
  const w = await EmbeddingsWriter.open(dir, { dim, shardRows: 700 }); // 5 shards
  await w.add(Array.from({ length: n }, (_, i) => `p${i}`), data);
  await w.finish();
  return dir;
}

function recallOf(got: Int32Array, want: Int32Array, nq: number, k: number): number {
  let found = 0;
  for (let q = 0; q < nq; q++) {
    const g = new Set(got.subarray(q * k, (q + 1) * k));
    for (const id of want.subarray(q * k, (q + 1) * k)) if (g.has(id)) found++;
  }
  return found / (nq * k);
}

test('IVF probing every list is exact: the same ids as the exact search', { skip }, async () => {
  const dir = await embeddingsDir(matrix);
  const ann = await openAnnIndex(dir, { kind: 'ivf', nlist: 16, nprobe: 16, threads: 1 });
  assert.equal(ann.size, n);
  const got = searchAnn(ann, queries, 20);
  const want = exactSearch(matrix, dim, queries, 20);
  assert.deepEqual([...got.ids], [...want.ids]);
});

test('IVF-PQ from the shards: recall@k reported against exact equals the recall computed here; the index is saved and reused', { skip }, async () => {
  const dir = await embeddingsDir(matrix);
  const logs: string[] = [];
  const k = 50;
  const opts = { kind: 'ivfpq' as const, nlist: 16, nprobe: 4, pqM: 8, trainRows: 2500, threads: 1, recallQueries: 60 };
  const first = await searchEmbeddings(dir, queries, k, { index: opts, log: (m) => logs.push(m) });
  assert.match(first.description, /IVF16,PQ8x8np nprobe=4/);
  assert.equal(first.annReused, false);
  const want = exactSearch(matrix, dim, queries, k);
  const recall = recallOf(first.hits.ids, want.ids, 60, k);
  assert.ok(Math.abs(first.recall!.recall - recall) < 1e-9, `reported ${first.recall!.recall}, computed ${recall}`);
  assert.equal(first.recall!.queries, 60);
  assert.ok(recall > 0.3 && recall < 1, `IVF-PQ recall@${k} ${recall}`);
  assert.ok(logs.some((l) => /recall@50 of IVF16,PQ8x8np against exact search, on 60 sampled queries: 0\.\d{4}/.test(l)), logs.join('\n'));
  for (const row of first.hits.ids) if (row >= 0) assert.equal(first.rowIds.get(row), `p${row}`);
  assert.ok(!(await readdir(dir)).some((f) => f.startsWith('ann-')), 'nothing added to the embeddings dir');
  const files = await readdir(annDir(dir));
  assert.deepEqual(files.map((f) => f.replace(/-[0-9a-f]{16}\./, '.')).sort(), ['ann-ivfpq.faiss', 'ann-ivfpq.json']);
  // A re-mine reuses it (same hits); another nprobe is a search setting, not another index.
  const again = await searchEmbeddings(dir, queries, k, { index: { ...opts, recallQueries: 0 } });
  assert.equal(again.annReused, true);
  assert.deepEqual([...again.hits.ids], [...first.hits.ids]);
  assert.equal(again.recall, undefined);
  const wider = await searchEmbeddings(dir, queries, k, { index: { ...opts, nprobe: 16 } });
  assert.equal(wider.annReused, true);
  assert.ok(wider.recall!.recall >= first.recall!.recall, `nprobe 16: ${wider.recall!.recall}, nprobe 4: ${first.recall!.recall}`);
  // A sample of the queries: recall is measured on just that many, the ones sampleIndices picks.
  const sampled = await searchEmbeddings(dir, queries, k, { index: { ...opts, recallQueries: 10 } });
  assert.equal(sampled.recall!.queries, 10);
  let sum = 0;
  for (const q of sampleIndices(60, 10, deriveSeed(13, 'ann.recall'))) sum += recallOf(sampled.hits.ids.subarray(q * k, (q + 1) * k), want.ids.subarray(q * k, (q + 1) * k), 1, k);
  assert.ok(Math.abs(sampled.recall!.recall - sum / 10) < 1e-9);
});

test('an index of other embeddings is not reused', { skip }, async () => {
  const dir = await embeddingsDir(matrix);
  const opts = { kind: 'ivf' as const, nlist: 8, threads: 1, recallQueries: 0 };
  await searchEmbeddings(dir, queries, 5, { index: opts });
  const changed = matrix.slice();
  changed[0] += 1;
  const other = await embeddingsDir(changed);
  // Same settings, other content: the key differs (it covers every shard's sha256).
  const a = await openAnnIndex(dir, opts);
  const b = await openAnnIndex(other, opts);
  assert.equal(a.reused, true);
  assert.equal(b.reused, false);
  assert.notEqual(a.file.split('/').pop(), b.file.split('/').pop());
});

test('HNSW built shard by shard finds nearly all exact neighbours', { skip }, async () => {
  const dir = await embeddingsDir(matrix);
  const got = await searchEmbeddings(dir, queries, 10, { index: { kind: 'hnsw', efSearch: 64, recallQueries: 60 } });
  assert.match(got.description, /HNSW32/);
  const want = exactSearch(matrix, dim, queries, 10);
  const recall = recallOf(got.hits.ids, want.ids, 60, 10);
  assert.ok(recall >= 0.9, `HNSW recall@10 ${recall}`);
  assert.ok(Math.abs(got.recall!.recall - recall) < 1e-9);
});
