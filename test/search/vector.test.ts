import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exactSearch, exactSearchParallel, mergeTopK, type TopK } from '../../src/search/vector/exact.ts';
import { createVectorIndex } from '../../src/search/vector/index.ts';
import { loadFaiss } from '../../src/search/vector/faiss.ts';
import { randomVectors } from './_fake-encoder.ts';

/** Brute force with a full sort: the reference every search must agree with. */
function reference(matrix: Float32Array, dim: number, queries: Float32Array, k: number): { ids: number[]; scores: number[] }[] {
  const n = matrix.length / dim;
  const out = [];
  for (let q = 0; q < queries.length / dim; q++) {
    const all = Array.from({ length: n }, (_, r) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += matrix[r * dim + j] * queries[q * dim + j];
      return { r, s };
    }).sort((a, b) => b.s - a.s || a.r - b.r);
    out.push({ ids: all.slice(0, k).map((x) => x.r), scores: all.slice(0, k).map((x) => x.s) });
  }
  return out;
}

/** Same neighbours at every rank, except where two scores tie within float32 rounding. */
function assertSameNeighbours(got: TopK, want: { ids: number[]; scores: number[] }[], label: string) {
  for (let q = 0; q < want.length; q++) {
    for (let r = 0; r < want[q].ids.length; r++) {
      const gotId = got.ids[q * got.k + r];
      const gotScore = got.scores[q * got.k + r];
      assert.ok(Math.abs(gotScore - want[q].scores[r]) < 1e-4, `${label}: query ${q} rank ${r} score ${gotScore} vs ${want[q].scores[r]}`);
      if (gotId !== want[q].ids[r]) {
        const tie = want[q].scores.some((s, i) => i !== r && Math.abs(s - want[q].scores[r]) < 1e-5);
        assert.ok(tie, `${label}: query ${q} rank ${r} id ${gotId} vs ${want[q].ids[r]}`);
      }
    }
  }
}

test('exact search matches brute force for odd dims and k above row count', () => {
  for (const [n, dim, nq, k] of [[300, 7, 5, 10], [1000, 32, 20, 50], [3, 4, 2, 5]]) {
    const m = randomVectors(n, dim, n);
    const qs = randomVectors(nq, dim, n + 1);
    const got = exactSearch(m, dim, qs, k);
    const want = reference(m, dim, qs, Math.min(k, n));
    assertSameNeighbours(got, want, `n=${n} dim=${dim}`);
    if (k > n) {
      assert.equal(got.ids[n], -1, 'missing ranks are -1');
      assert.equal(got.scores[n], -Infinity);
    }
  }
});

test('ties go to the lower row id', () => {
  const m = new Float32Array([1, 0, 1, 0, 0, 1, 1, 0]); // rows 0, 1, 3 tie for query (1, 0)
  const got = exactSearch(m, 2, new Float32Array([1, 0]), 3);
  assert.deepEqual([...got.ids], [0, 1, 3]);
});

test('worker-parallel exact search returns what the single-threaded one does', async () => {
  const dim = 16;
  const m = randomVectors(2000, dim, 3);
  const qs = randomVectors(40, dim, 4);
  const single = exactSearch(m, dim, qs, 20);
  const parallel = await exactSearchParallel(m, dim, qs, 20, { threads: 2, minWork: 0 });
  assert.deepEqual([...parallel.ids], [...single.ids]);
  assert.deepEqual([...parallel.scores], [...single.scores]);
});

test('merging per-shard results equals searching the whole matrix', () => {
  const dim = 8;
  const m = randomVectors(500, dim, 5);
  const qs = randomVectors(6, dim, 6);
  const whole = exactSearch(m, dim, qs, 15);
  const a = exactSearch(m.subarray(0, 200 * dim), dim, qs, 15, 0);
  const b = exactSearch(m.subarray(200 * dim), dim, qs, 15, 200);
  const merged = mergeTopK(a, b, 15);
  assert.deepEqual([...merged.ids], [...whole.ids]);
});

const faiss = loadFaiss();

test('faiss IndexFlatIP and the exact fallback return the same neighbours', { skip: faiss ? false : 'faiss-node not built (scripts/build-faiss-node.sh)' }, async () => {
  const dim = 48;
  const m = randomVectors(3000, dim, 11);
  const qs = randomVectors(25, dim, 12);
  const viaFaiss = createVectorIndex(dim, { backend: 'faiss' });
  const viaExact = createVectorIndex(dim, { backend: 'exact' });
  // Added in two batches, as shards are.
  for (const index of [viaFaiss, viaExact]) {
    index.add(m.subarray(0, 1000 * dim));
    index.add(m.subarray(1000 * dim));
  }
  assert.match(viaFaiss.description, /faiss IndexFlatIP/);
  assert.match(viaExact.description, /exact/);
  const want = reference(m, dim, qs, 30);
  assertSameNeighbours(await viaFaiss.search(qs, 30), want, 'faiss');
  assertSameNeighbours(await viaExact.search(qs, 30), want, 'exact');
});

test('faiss HNSW finds nearly all exact neighbours', { skip: faiss ? false : 'faiss-node not built' }, async () => {
  const dim = 32;
  const m = randomVectors(2000, dim, 21);
  const qs = randomVectors(20, dim, 22);
  const hnsw = createVectorIndex(dim, { kind: 'hnsw', efSearch: 128 });
  hnsw.add(m);
  assert.match(hnsw.description, /HNSW/);
  const got = await hnsw.search(qs, 10);
  const want = reference(m, dim, qs, 10);
  let found = 0;
  want.forEach((w, q) => w.ids.forEach((id) => (found += got.ids.subarray(q * 10, q * 10 + 10).includes(id) ? 1 : 0)));
  assert.ok(found / 200 >= 0.9, `recall@10 of HNSW vs exact is ${found / 200}`);
});

test('a faiss search asking more than the index holds pads with -1', { skip: faiss ? false : 'faiss-node not built' }, async () => {
  const index = createVectorIndex(2, { backend: 'faiss' });
  index.add(new Float32Array([1, 0, 0, 1]));
  const got = await index.search(new Float32Array([1, 0]), 4);
  assert.deepEqual([...got.ids], [0, 1, -1, -1]);
});

test('faiss-node loads where the environment requires it (CI builds it)', () => {
  // .ci/run sets DPREP_REQUIRE_FAISS=1 after building the addon, so the faiss tests above cannot skip there.
  if (process.env.DPREP_REQUIRE_FAISS === '1') assert.ok(faiss, 'DPREP_REQUIRE_FAISS=1 but faiss-node did not load');
  else assert.equal(typeof loadFaiss, 'function');
});
