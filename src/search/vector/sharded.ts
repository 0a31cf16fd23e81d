/**
 * Exact search over an embeddings directory one shard at a time: each shard is read, put in a
 * flat inner-product index (faiss IndexFlatIP, or the exact JS search), searched with every
 * query, and its top-k merged into the running top-k; then the shard is dropped before the next
 * is read. Memory: one shard's vectors (and its flat index), the queries, and nq × k hits — never
 * all shards at once, so the corpus can be far larger than memory.
 *
 * The result is the same as one flat index over all rows: per-shard top-k lists hold every row
 * of the global top-k that lives in that shard, and the merge keeps the best k. Ties go to the
 * lower global row id everywhere. The JS search and mergeTopK do that themselves; faiss does not
 * (it lists a tie high id first, and a tie that straddles rank k may keep any of its rows), so a
 * faiss shard is searched a little deeper than k until the k-th score's whole tie is in the list,
 * which is then put in row order and cut to k.
 */
import { join } from 'node:path';
import { readEmbeddingShards, readEmbeddingsManifest } from '../../io/embeddings.ts';
import { Progress } from '../../util/progress.ts';
import { exactSearchParallel, mergeTopK, type TopK } from './exact.ts';
import { createVectorIndex, releaseNativeMemory, resolveBackend, type VectorIndex, type VectorIndexOptions } from './index.ts';

export interface ShardedSearchOptions {
  /** `backend` and `threads` are used; the per-shard index is always flat (exact). */
  index?: VectorIndexOptions;
  /** Passage ids whose vectors to keep (e.g. positives, for score margins). */
  capture?: ReadonlySet<string>;
  /** Progress label (default `search shards`). */
  label?: string;
}

export interface ShardedSearchResult {
  /** Best-first hits by global row (row = position over all shards in manifest order). */
  hits: TopK;
  /** Passage id of every row that is in `hits`. */
  rowIds: Map<number, string>;
  /** Vectors of the ids asked for in `capture`. */
  captured: Map<string, Float32Array>;
  /** Rows in all shards. */
  size: number;
  shards: number;
  /** The flat index that searched each shard, for logs. */
  description: string;
  /** The most passage rows held in memory at once (vectors read + rows in a live index). */
  peakResidentRows: number;
}

/**
 * Exact top-k of `queries` (nq × dim) over every shard of an embeddings dir, one shard in memory at a time.
 * @example const { hits, rowIds } = await searchEmbeddingShards('emb/', queryVectors, 100, { index: { backend: 'auto' } });
 */
export async function searchEmbeddingShards(dir: string, queries: Float32Array, k: number, opts: ShardedSearchOptions = {}): Promise<ShardedSearchResult> {
  const manifest = await readEmbeddingsManifest(dir);
  const dim = manifest.dim;
  if (queries.length % dim !== 0) throw new Error(`the query vectors are not ${dim}-d like the passage embeddings in ${join(dir, 'manifest.json')}`);
  const nq = queries.length / dim;
  let hits: TopK = { nq, k, ids: new Int32Array(nq * k).fill(-1), scores: new Float32Array(nq * k).fill(-Infinity) };
  let rowIds = new Map<number, string>();
  const captured = new Map<string, Float32Array>();
  const backend = opts.index?.backend ?? 'auto';
  let description = '';
  let peakResidentRows = 0;
  let shards = 0;
  const progress = new Progress(opts.label ?? 'search shards', { total: manifest.count, unit: 'vectors' });
  // The exact JS search reads the shard's own (shared) buffer; faiss copies it into its index.
  const shared = resolveBackend(backend) === 'exact';
  for await (const shard of readEmbeddingShards(dir, { shared })) {
    const rows = shard.ids.length;
    for (let i = 0; i < rows; i++) {
      if (opts.capture?.has(shard.ids[i])) captured.set(shard.ids[i], shard.vectors.slice(i * dim, (i + 1) * dim));
    }
    let part: TopK;
    if (shared) {
      description = 'exact JS inner-product search, shard by shard';
      peakResidentRows = Math.max(peakResidentRows, rows);
      part = await exactSearchParallel(shard.vectors, dim, queries, Math.min(k, rows), { threads: opts.index?.threads });
    } else {
      const index = createVectorIndex(dim, { backend, kind: 'flat', threads: opts.index?.threads });
      index.add(shard.vectors);
      description = `${index.description}, shard by shard`;
      // The shard's vectors and the index's copy of them are both alive here.
      peakResidentRows = Math.max(peakResidentRows, rows + index.size);
      part = await searchWholeTies(index, queries, Math.min(k, rows));
    }
    offsetRows(part, shard.rowOffset);
    hits = mergeTopK(hits, part, k);
    // Keep the ids of just the rows still in the top-k.
    const kept = new Map<number, string>();
    for (const row of hits.ids) {
      if (row < 0 || kept.has(row)) continue;
      kept.set(row, row >= shard.rowOffset ? shard.ids[row - shard.rowOffset] : rowIds.get(row)!);
    }
    rowIds = kept;
    shards++;
    progress.tick(rows);
    // The shard goes out of scope here; faiss's copy is native memory that V8 does not count, so it is freed now.
    if (!shared) await releaseNativeMemory();
  }
  progress.finish();
  return { hits, rowIds, captured, size: manifest.count, shards, description: description || 'no shards', peakResidentRows };
}

// Extra ranks asked of faiss beyond k, so that a tie at rank k is usually seen whole in one search.
const TIE_SLACK = 8;

/**
 * Top-k from a faiss index with ties in row order and a tie at rank k resolved to the lowest
 * rows: searched to k + TIE_SLACK; while some query's last score still equals its k-th, all the
 * queries are searched again twice as deep (the whole batch each time: faiss computes a score
 * the same way only for the same batch, so one query alone could come back rounded otherwise).
 */
async function searchWholeTies(index: VectorIndex, queries: Float32Array, k: number): Promise<TopK> {
  const nq = queries.length / index.dim;
  const rows = index.size;
  let depth = Math.min(rows, k + TIE_SLACK);
  let got = await index.search(queries, depth);
  const cut = (q: number) => depth < rows && k > 0 && got.scores[q * depth + depth - 1] === got.scores[q * depth + k - 1];
  while (Array.from({ length: nq }, (_, q) => q).some(cut)) {
    depth = Math.min(rows, depth * 2);
    got = await index.search(queries, depth);
  }
  orderTies(got);
  const out: TopK = { nq, k, ids: new Int32Array(nq * k), scores: new Float32Array(nq * k) };
  for (let q = 0; q < nq; q++) {
    out.ids.set(got.ids.subarray(q * depth, q * depth + k), q * k);
    out.scores.set(got.scores.subarray(q * depth, q * depth + k), q * k);
  }
  return out;
}

/** Puts each query's equal-score runs in ascending row order (the order mergeTopK and the JS search use). */
export function orderTies(t: TopK): void {
  for (let q = 0; q < t.nq; q++) {
    const base = q * t.k;
    for (let r = 1; r < t.k; r++) {
      const id = t.ids[base + r];
      if (id < 0) break;
      const s = t.scores[base + r];
      let j = r;
      while (j > 0 && t.scores[base + j - 1] === s && t.ids[base + j - 1] > id) {
        t.ids[base + j] = t.ids[base + j - 1];
        j--;
      }
      t.ids[base + j] = id;
    }
  }
}

function offsetRows(t: TopK, offset: number): void {
  if (offset === 0) return;
  for (let i = 0; i < t.ids.length; i++) if (t.ids[i] >= 0) t.ids[i] += offset;
}
