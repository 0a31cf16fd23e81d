/**
 * Approximate faiss indexes over an embeddings directory, for corpora where exact search is too
 * slow: IVF (`IVF<nlist>,Flat`), IVF-PQ (`IVF<nlist>,PQ<m>x<nbits>`) and HNSW (`HNSW<M>`), made
 * through faiss's index factory (faiss-node's `Index.fromFactory`). Built from the shards: the
 * IVF kinds train on a seeded sample of rows gathered shard by shard, then every shard is added
 * in order (row ids stay the global rows). Memory: IVF-PQ holds m·nbits/8 bytes per row plus the
 * sample; IVF-Flat and HNSW hold every vector (HNSW also its graph), so only IVF-PQ is much
 * smaller than the corpus.
 *
 * The built index is saved next to the embeddings (`<dir>.ann/ann-<kind>-<key>.faiss` and a
 * `.json` manifest; beside the dir, not in it, so the embeddings' content stays as encode left
 * it) keyed by the embeddings' content (every shard's sha256), the factory string, the
 * training sample and seed, so a re-mine of the same embeddings reuses it and a re-encode builds
 * a new one. Search-time settings (nprobe, efSearch) are not part of the key.
 *
 * Recall: callers compare the approximate top-k with the exact shard-by-shard search on a seeded
 * sample of queries (recallAgainstExact) and report it, so a user sees what the index loses.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readEmbeddingShards, readEmbeddingsManifest, type EmbeddingsManifest } from '../../io/embeddings.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import { UsageError } from '../../util/errors.ts';
import { Progress } from '../../util/progress.ts';
import { deriveSeed, seededRandom } from '../../util/random.ts';
import type { TopK } from './exact.ts';
import { loadFaiss, loadErrors, METRIC_INNER_PRODUCT, type FaissNativeIndex } from './faiss.ts';
import { orderTies, searchEmbeddingShards } from './sharded.ts';

export const ANN_KINDS = ['ivf', 'ivfpq', 'hnsw'] as const;
export type AnnKind = (typeof ANN_KINDS)[number];

/** What the user may set; the rest is sized from the corpus (annSpec). */
export interface AnnOptions {
  kind: AnnKind;
  /** IVF lists (default: 4·√n rounded to a power of two, at most n/39 so each list trains on 39 rows). */
  nlist?: number;
  /** IVF lists visited per query (default: nlist/16, at least 1). */
  nprobe?: number;
  /** PQ sub-quantizers, bytes per row at 8 bits (default: dim/8, or the nearest divisor of dim below). */
  pqM?: number;
  /** Bits per PQ code (default 8). */
  pqBits?: number;
  /** HNSW graph degree (default 32). */
  hnswM?: number;
  /** HNSW search breadth (default 128; at least k is used). */
  efSearch?: number;
  /** Rows sampled to train IVF/PQ (default: 39·nlist, at least 256·39 with PQ, at most n and 2^24 floats). */
  trainRows?: number;
  /** Seed of the training sample. */
  seed?: number;
  /** faiss OpenMP threads. */
  threads?: number;
}

/** The settings an index is built and searched with, all resolved. */
export interface AnnSpec {
  kind: AnnKind;
  factory: string;
  nlist?: number;
  nprobe?: number;
  pqM?: number;
  pqBits?: number;
  hnswM?: number;
  efSearch?: number;
  trainRows: number;
  seed: number;
}

const MIN_PER_LIST = 39; // faiss's k-means warns below 39 training points per centroid

/**
 * Resolves the options for a corpus of `n` rows of `dim` floats.
 * @example annSpec({ kind: 'ivfpq' }, 8_800_000, 64).factory // 'IVF16384,PQ8x8'
 */
export function annSpec(opts: AnnOptions, n: number, dim: number): AnnSpec {
  const seed = opts.seed ?? 13;
  if (opts.kind === 'hnsw') {
    const hnswM = opts.hnswM ?? 32;
    return { kind: 'hnsw', factory: `HNSW${hnswM}`, hnswM, efSearch: opts.efSearch ?? 128, trainRows: 0, seed };
  }
  const maxLists = Math.max(1, Math.floor(n / MIN_PER_LIST));
  const nlist = opts.nlist ?? Math.min(maxLists, 2 ** Math.round(Math.log2(Math.max(1, 4 * Math.sqrt(n)))));
  if (nlist > n) throw new UsageError(`--nlist ${nlist} is more than the ${n} rows to cluster`);
  const nprobe = Math.min(nlist, opts.nprobe ?? Math.max(1, Math.round(nlist / 16)));
  let pqM: number | undefined;
  let pqBits: number | undefined;
  if (opts.kind === 'ivfpq') {
    pqBits = opts.pqBits ?? 8;
    pqM = opts.pqM ?? largestDivisorAtMost(dim, Math.max(1, Math.floor(dim / 8)));
    if (dim % pqM !== 0) throw new UsageError(`--pq-m ${pqM} must divide the embeddings' dim ${dim}`);
  }
  const wanted = Math.max(MIN_PER_LIST * nlist, pqBits ? MIN_PER_LIST * 2 ** pqBits : 0);
  const trainRows = Math.min(n, opts.trainRows ?? Math.min(wanted, Math.max(1, Math.floor(2 ** 24 / dim))));
  if (trainRows < nlist) throw new UsageError(`--train-rows ${trainRows} is fewer than --nlist ${nlist}: k-means needs a row per list`);
  const factory = opts.kind === 'ivf' ? `IVF${nlist},Flat` : `IVF${nlist},PQ${pqM}x${pqBits}np`;
  return { kind: opts.kind, factory, nlist, nprobe, pqM, pqBits, trainRows, seed };
}

function largestDivisorAtMost(n: number, max: number): number {
  for (let m = max; m > 1; m--) if (n % m === 0) return m;
  return 1;
}

/** Content of the embeddings, for the index's key: every shard's hashes, in order, and the dim. */
export function embeddingsContentHash(m: EmbeddingsManifest): string {
  const h = createHash('sha256').update(`${m.dim}\n`);
  for (const s of m.shards) h.update(`${s.rows} ${s.sha256} ${s.idsSha256}\n`);
  return h.digest('hex');
}

export const ANN_FORMAT = 'dprep-ann/1';

interface AnnManifest {
  format: typeof ANN_FORMAT;
  kind: AnnKind;
  factory: string;
  embeddings: string;
  count: number;
  dim: number;
  trainRows: number;
  seed: number;
  file: string;
}

export interface AnnIndex {
  spec: AnnSpec;
  native: FaissNativeIndex;
  size: number;
  dim: number;
  /** Reused from disk (true) or built now. */
  reused: boolean;
  /** The file the index is saved in. */
  file: string;
  description: string;
}

/**
 * The approximate index of an embeddings dir: read from `<dir>/ann-*.faiss` when one was built
 * from the same embeddings with the same settings, else built from the shards and saved.
 * @example const ann = await openAnnIndex('emb/', { kind: 'ivfpq' }); const hits = await searchAnn(ann, queries, 100);
 */
export async function openAnnIndex(dir: string, opts: AnnOptions, log: (m: string) => void = () => {}): Promise<AnnIndex> {
  const faiss = loadFaiss();
  if (!faiss) throw new UsageError(`--index ${opts.kind} needs faiss-node (run scripts/build-faiss-node.sh), which did not load${loadErrors.length ? ': ' + loadErrors.join('; ') : ''}; use --index flat for the exact search`);
  if (faiss.addon.setThreads && opts.threads) faiss.addon.setThreads(opts.threads);
  const manifest = await readEmbeddingsManifest(dir);
  const spec = annSpec(opts, manifest.count, manifest.dim);
  const embeddings = embeddingsContentHash(manifest);
  const key = createHash('sha256').update(JSON.stringify([embeddings, spec.factory, spec.trainRows, spec.seed])).digest('hex').slice(0, 16);
  const base = `ann-${spec.kind}-${key}`;
  const home = annDir(dir);
  const file = join(home, `${base}.faiss`);
  const metaFile = join(home, `${base}.json`);
  const description = `faiss ${spec.factory}${spec.nprobe ? ` nprobe=${spec.nprobe}` : ''}${spec.efSearch ? ` efSearch=${spec.efSearch}` : ''} (${faiss.source})`;
  const meta = await readFile(metaFile, 'utf8').then((t) => JSON.parse(t) as AnnManifest, () => undefined);
  if (meta && meta.format === ANN_FORMAT && meta.embeddings === embeddings && meta.factory === spec.factory && meta.trainRows === spec.trainRows && meta.seed === spec.seed) {
    try {
      const native = faiss.addon.Index.read(file);
      if (native.ntotal() === manifest.count && native.getDimension() === manifest.dim) {
        log(`index: reusing ${file} (${spec.factory}, built from these embeddings)`);
        return { spec, native, size: manifest.count, dim: manifest.dim, reused: true, file, description };
      }
    } catch {
      // An unreadable index file is rebuilt below.
    }
  }
  const native = faiss.addon.Index.fromFactory(manifest.dim, spec.factory, METRIC_INNER_PRODUCT);
  if (spec.trainRows > 0) {
    const sample = await trainingSample(dir, manifest, spec);
    log(`index: training ${spec.factory} on ${spec.trainRows} sampled rows`);
    // faiss-node's train takes a JS array (add and search take Float32Array in the addon built here).
    native.train(Array.from(sample));
  }
  const progress = new Progress(`build ${spec.kind}`, { total: manifest.count, unit: 'vectors' });
  for await (const shard of readEmbeddingShards(dir)) {
    native.add(shard.vectors);
    progress.tick(shard.ids.length);
  }
  progress.finish();
  await mkdir(home, { recursive: true });
  // Written beside the final name, then renamed: a reader never sees half an index.
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    native.write(tmp);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const saved: AnnManifest = { format: ANN_FORMAT, kind: spec.kind, factory: spec.factory, embeddings, count: manifest.count, dim: manifest.dim, trainRows: spec.trainRows, seed: spec.seed, file: `${base}.faiss` };
  await writeFileAtomic(metaFile, JSON.stringify(saved, null, 2) + '\n');
  log(`index: built ${spec.factory} over ${manifest.count} rows, saved as ${file}`);
  return { spec, native, size: manifest.count, dim: manifest.dim, reused: false, file, description };
}

/**
 * Where the approximate indexes of an embeddings dir are kept: the sibling `<dir>.ann/`, not the
 * embeddings dir itself, whose content (a pipeline step's output, hashed as a tree) must not change.
 * @example annDir('work/emb/') // 'work/emb.ann'
 */
export function annDir(dir: string): string {
  return `${dir.replace(/[\\/]+$/, '')}.ann`;
}

/** A seeded uniform sample of `spec.trainRows` rows (in row order), gathered one shard at a time. */
async function trainingSample(dir: string, m: EmbeddingsManifest, spec: AnnSpec): Promise<Float32Array> {
  const rows = sampleIndices(m.count, spec.trainRows, deriveSeed(spec.seed, 'ann.train'));
  const out = new Float32Array(rows.length * m.dim);
  let next = 0;
  const progress = new Progress('train sample', { total: m.count, unit: 'vectors' });
  for await (const shard of readEmbeddingShards(dir)) {
    const end = shard.rowOffset + shard.ids.length;
    for (; next < rows.length && rows[next] < end; next++) {
      const r = rows[next] - shard.rowOffset;
      out.set(shard.vectors.subarray(r * m.dim, (r + 1) * m.dim), next * m.dim);
    }
    progress.tick(shard.ids.length);
  }
  progress.finish();
  return out;
}

/**
 * `count` distinct indices of [0, n), seeded, ascending (Floyd's algorithm: O(count) memory).
 * @example sampleIndices(10, 3, 7) // e.g. [1, 4, 8]
 */
export function sampleIndices(n: number, count: number, seed: number): number[] {
  const rng = seededRandom(seed);
  const chosen = new Set<number>();
  for (let j = n - count; j < n; j++) {
    const t = Math.floor(rng() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

/**
 * Top-k of `queries` (nq × dim) in an approximate index; rows it cannot fill are -1.
 * Ties are listed in row order, as the exact search lists them.
 */
export function searchAnn(ann: AnnIndex, queries: Float32Array, k: number): TopK {
  const nq = queries.length / ann.dim;
  const kk = Math.min(k, ann.size);
  const ids = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  if (kk === 0 || nq === 0) return { nq, k, ids, scores };
  if (ann.spec.nprobe) ann.native.setParam?.('nprobe', ann.spec.nprobe);
  if (ann.spec.efSearch) ann.native.setParam?.('efSearch', Math.max(ann.spec.efSearch, kk));
  const res = ann.native.search(queries, kk);
  for (let q = 0; q < nq; q++) {
    for (let r = 0; r < kk; r++) {
      const label = res.labels[q * kk + r];
      ids[q * k + r] = label;
      scores[q * k + r] = label < 0 ? -Infinity : res.distances[q * kk + r];
    }
  }
  const out = { nq, k, ids, scores };
  orderTies(out);
  return out;
}

export interface RecallReport {
  k: number;
  /** Queries compared (a seeded sample). */
  queries: number;
  /** Over the sample: approximate top-k rows that are in the exact top-k, and the exact top-k rows (integers: units add them). */
  found: number;
  truth: number;
  /** found / truth (1 when nothing was compared): the mean of |approximate ∩ exact| / |exact| when every exact list is full, as it is. */
  recall: number;
}

/**
 * Where the queries of a call sit among all queries of a run: a work unit searches
 * `queries` = run queries [offset, offset + nq) and owns [start, end) of them. The sample is drawn
 * over all `total` run queries and each unit measures the sampled ones it owns, so the units'
 * reports add up (mergeRecall) to the whole run's.
 */
export interface RecallScope {
  total: number;
  offset: number;
  start: number;
  end: number;
}

/**
 * Recall@k of approximate hits against the exact shard-by-shard search, on a seeded sample of
 * `sample` queries (all of them when there are fewer) of the run (`scope`; default: these queries).
 * @example const { recall } = await recallAgainstExact('emb/', queries, hits, 100, 7);
 */
export async function recallAgainstExact(dir: string, queries: Float32Array, approx: TopK, sample: number, seed: number, threads?: number, scope?: RecallScope): Promise<RecallReport> {
  const dim = queries.length / approx.nq;
  const { total, offset, start, end } = scope ?? { total: approx.nq, offset: 0, start: 0, end: approx.nq };
  const picked = sampleIndices(total, Math.min(sample, total), deriveSeed(seed, 'ann.recall')).filter((g) => g >= start && g < end).map((g) => g - offset);
  const k = approx.k;
  if (picked.length === 0) return { k, queries: 0, found: 0, truth: 0, recall: 1 };
  const sub = new Float32Array(picked.length * dim);
  picked.forEach((q, i) => sub.set(queries.subarray(q * dim, (q + 1) * dim), i * dim));
  const exact = await searchEmbeddingShards(dir, sub, k, { index: { backend: 'auto', threads }, label: 'recall check (exact)' });
  let found = 0;
  let truth = 0;
  picked.forEach((q, i) => {
    const rows = [...exact.hits.ids.subarray(i * k, (i + 1) * k)].filter((r) => r >= 0);
    const got = new Set(approx.ids.subarray(q * k, (q + 1) * k));
    truth += rows.length;
    found += rows.filter((r) => got.has(r)).length;
  });
  return { k, queries: picked.length, found, truth, recall: truth === 0 ? 1 : found / truth };
}

/**
 * The recall of a whole run from its units' reports (undefined when no unit measured one).
 * @example mergeRecall([{ k: 100, queries: 3, found: 290, truth: 300, recall: 0.967 }, …])
 */
export function mergeRecall(parts: readonly (RecallReport | undefined)[]): RecallReport | undefined {
  const got = parts.filter((p): p is RecallReport => p !== undefined);
  if (got.length === 0) return undefined;
  const found = got.reduce((n, p) => n + p.found, 0);
  const truth = got.reduce((n, p) => n + p.truth, 0);
  return { k: got[0].k, queries: got.reduce((n, p) => n + p.queries, 0), found, truth, recall: truth === 0 ? 1 : found / truth };
}
