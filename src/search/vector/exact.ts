/**
 * Exact inner-product top-k in plain JS: the fallback when the faiss addon is not built.
 * Same results as faiss IndexFlatIP (ties aside; here ties go to the lower row id).
 *
 * The loop is blocked: a block of passage rows stays in cache while a block of queries is
 * scored against it, so the matrix streams from memory once per query block, not per query.
 * Query blocks are spread over worker threads that share the matrix (SharedArrayBuffer).
 */
import { availableParallelism } from 'node:os';
import { WorkerPool } from '../../util/workers.ts';

/** Row-major search results: `ids[q*k + r]` is the r-th best row for query q (-1 = none). */
export interface TopK {
  nq: number;
  k: number;
  ids: Int32Array;
  scores: Float32Array;
}

const QUERY_BLOCK = 16;
const ROW_BLOCK = 128;

/**
 * Single-threaded exact top-k by inner product over `matrix` (n × dim) for `queries` (nq × dim).
 * @example exactSearch(new Float32Array([1, 0, 0, 1]), 2, new Float32Array([0, 1]), 1).ids // Int32Array [1]
 */
export function exactSearch(matrix: Float32Array, dim: number, queries: Float32Array, k: number, rowOffset = 0): TopK {
  const n = matrix.length / dim;
  const nq = queries.length / dim;
  const ids = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  const sizes = new Int32Array(nq);
  for (let q0 = 0; q0 < nq; q0 += QUERY_BLOCK) {
    const q1 = Math.min(q0 + QUERY_BLOCK, nq);
    for (let r0 = 0; r0 < n; r0 += ROW_BLOCK) {
      const r1 = Math.min(r0 + ROW_BLOCK, n);
      for (let q = q0; q < q1; q++) {
        const qo = q * dim;
        const base = q * k;
        for (let r = r0; r < r1; r++) {
          const ro = r * dim;
          // Four accumulators break the add dependency chain; the tail loop handles dim % 4.
          let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          let j = 0;
          for (; j + 3 < dim; j += 4) {
            s0 += matrix[ro + j] * queries[qo + j];
            s1 += matrix[ro + j + 1] * queries[qo + j + 1];
            s2 += matrix[ro + j + 2] * queries[qo + j + 2];
            s3 += matrix[ro + j + 3] * queries[qo + j + 3];
          }
          for (; j < dim; j++) s0 += matrix[ro + j] * queries[qo + j];
          const s = Math.fround(s0 + s1 + s2 + s3);
          if (sizes[q] < k) heapPush(scores, ids, base, sizes[q]++, s, r + rowOffset);
          else if (s > scores[base]) heapReplaceTop(scores, ids, base, k, s, r + rowOffset);
        }
      }
    }
  }
  for (let q = 0; q < nq; q++) sortDescending(scores, ids, q * k, sizes[q]);
  return { nq, k, ids, scores };
}

// Min-heap on (score, then higher id = worse) stored in scores/ids[base .. base+size).
function worse(scores: Float32Array, ids: Int32Array, a: number, b: number): boolean {
  return scores[a] < scores[b] || (scores[a] === scores[b] && ids[a] > ids[b]);
}

function swap(scores: Float32Array, ids: Int32Array, a: number, b: number): void {
  const s = scores[a];
  scores[a] = scores[b];
  scores[b] = s;
  const i = ids[a];
  ids[a] = ids[b];
  ids[b] = i;
}

function heapPush(scores: Float32Array, ids: Int32Array, base: number, size: number, s: number, id: number): void {
  let i = size;
  scores[base + i] = s;
  ids[base + i] = id;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!worse(scores, ids, base + i, base + parent)) break;
    swap(scores, ids, base + i, base + parent);
    i = parent;
  }
}

function heapReplaceTop(scores: Float32Array, ids: Int32Array, base: number, size: number, s: number, id: number): void {
  scores[base] = s;
  ids[base] = id;
  siftDown(scores, ids, base, size, 0);
}

function siftDown(scores: Float32Array, ids: Int32Array, base: number, size: number, i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < size && worse(scores, ids, base + l, base + m)) m = l;
    if (r < size && worse(scores, ids, base + r, base + m)) m = r;
    if (m === i) return;
    swap(scores, ids, base + i, base + m);
    i = m;
  }
}

// Heap-sorts in place: repeatedly moves the worst to the end, leaving best-first order.
function sortDescending(scores: Float32Array, ids: Int32Array, base: number, size: number): void {
  for (let end = size - 1; end > 0; end--) {
    swap(scores, ids, base, base + end);
    siftDown(scores, ids, base, end, 0);
  }
}

/**
 * Merges two best-first result lists of the same queries (e.g. from two shards) into one.
 * @example mergeTopK(shard0Hits, shard1Hits, 100)
 */
export function mergeTopK(a: TopK, b: TopK, k: number): TopK {
  const nq = a.nq;
  const ids = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  for (let q = 0; q < nq; q++) {
    let i = 0, j = 0;
    for (let r = 0; r < k; r++) {
      const ai = q * a.k + i, bj = q * b.k + j;
      const aOk = i < a.k && a.ids[ai] >= 0;
      const bOk = j < b.k && b.ids[bj] >= 0;
      if (!aOk && !bOk) break;
      const takeA = aOk && (!bOk || a.scores[ai] > b.scores[bj] || (a.scores[ai] === b.scores[bj] && a.ids[ai] < b.ids[bj]));
      ids[q * k + r] = takeA ? a.ids[ai] : b.ids[bj];
      scores[q * k + r] = takeA ? a.scores[ai] : b.scores[bj];
      if (takeA) i++;
      else j++;
    }
  }
  return { nq, k, ids, scores };
}

/** Float32Array over shared memory (copies only when `data` is not shared already). */
export function toShared(data: Float32Array): Float32Array {
  if (data.buffer instanceof SharedArrayBuffer) return data;
  const shared = new Float32Array(new SharedArrayBuffer(data.byteLength));
  shared.set(data);
  return shared;
}

/** One worker's share: its slice of the queries (the matrix came with the worker's start-up data). */
export interface ExactRequest {
  queries: Float32Array;
  k: number;
}

/**
 * Exact top-k on `threads` worker threads, each taking a slice of the queries; the matrix is
 * shared, not copied, when it lives in a SharedArrayBuffer. Small jobs run on the calling thread.
 * @example const hits = await exactSearchParallel(matrix, 768, queries, 100, { threads: 2 });
 */
export async function exactSearchParallel(
  matrix: Float32Array,
  dim: number,
  queries: Float32Array,
  k: number,
  opts: { threads?: number; minWork?: number } = {},
): Promise<TopK> {
  const nq = queries.length / dim;
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), Math.ceil(nq / QUERY_BLOCK)));
  // A worker starts in ~1 s (it loads tsx); below ~2G multiply-adds (~2 s here) that costs more than it saves.
  if (threads === 1 || (matrix.length / dim) * nq * dim < (opts.minWork ?? 2e9)) return exactSearch(matrix, dim, queries, k);
  const sharedMatrix = toShared(matrix);
  const per = Math.ceil(nq / threads);
  const pool = WorkerPool.start<ExactRequest, TopK>('exact search worker', new URL('./exact-worker.ts', import.meta.url), threads, { matrix: sharedMatrix, dim });
  let parts: TopK[];
  try {
    parts = await Promise.all(
      Array.from({ length: threads }, (_, t) => {
        const slice = queries.slice(t * per * dim, Math.min((t + 1) * per, nq) * dim);
        return pool.send(t, { queries: slice, k }, [slice.buffer as ArrayBuffer]);
      }),
    );
  } finally {
    await pool.close();
  }
  const ids = new Int32Array(nq * k);
  const scores = new Float32Array(nq * k);
  let offset = 0;
  for (const part of parts) {
    ids.set(part.ids, offset);
    scores.set(part.scores, offset);
    offset += part.ids.length;
  }
  return { nq, k, ids, scores };
}
