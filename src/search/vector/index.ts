/**
 * A vector index by inner product: faiss-node (IndexFlatIP exact, or HNSW by option) when the
 * addon is available, else the exact JS search. Both return best-first `TopK` rows.
 */
import { exactSearchParallel, toShared, type TopK } from './exact.ts';
import { loadFaiss, loadErrors, METRIC_INNER_PRODUCT, type FaissNativeIndex } from './faiss.ts';

export type { TopK } from './exact.ts';
export { exactSearch, exactSearchParallel, mergeTopK } from './exact.ts';
export { releaseNativeMemory } from './faiss.ts';

export const INDEX_KINDS = ['flat', 'ivf', 'ivfpq', 'hnsw'] as const;
export type IndexKind = (typeof INDEX_KINDS)[number];
export const INDEX_BACKENDS = ['auto', 'faiss', 'exact'] as const;
export type IndexBackend = (typeof INDEX_BACKENDS)[number];

export interface VectorIndexOptions {
  /**
   * `flat` (exact, default); `ivf`, `ivfpq`, `hnsw` are approximate faiss indexes built from
   * embeddings shards (ann.ts; an in-memory index takes only `hnsw`, else exact is used).
   */
  kind?: IndexKind;
  /** `auto` uses faiss when it loads; `faiss` insists; `exact` never loads it. */
  backend?: IndexBackend;
  /** HNSW graph degree (faiss `HNSW<M>`). */
  hnswM?: number;
  /** HNSW search breadth (faiss `efSearch`); at least k is used. */
  efSearch?: number;
  /** Threads for search (faiss OpenMP threads, or exact-search workers). */
  threads?: number;
  /** Rows that will be added, when known: the exact index allocates them once, shared with workers. */
  capacity?: number;
  /** IVF lists and lists probed per query (ann.ts sizes them from the corpus when unset). */
  nlist?: number;
  nprobe?: number;
  /** PQ sub-quantizers and bits per code (ivfpq). */
  pqM?: number;
  pqBits?: number;
  /** Rows sampled to train IVF/PQ, and the sample's seed. */
  trainRows?: number;
  seed?: number;
  /** Queries (a seeded sample) on which an approximate index's recall@k against exact is measured; 0: none. */
  recallQueries?: number;
}

/**
 * The approximate-index options of mine dense and eval (`--index` itself is each command's).
 * @example options: { index: INDEX_OPTION, ...ANN_OPTIONS }
 */
export const ANN_OPTIONS = {
  nlist: { type: 'integer', min: 1, help: 'ivf/ivfpq: inverted lists (default 4·√n as a power of two, at most n/39)' },
  nprobe: { type: 'integer', min: 1, help: 'ivf/ivfpq: lists visited per query (default nlist/16)' },
  pqM: { type: 'integer', min: 1, help: 'ivfpq: sub-quantizers = bytes per vector at 8 bits (default dim/8; must divide dim)' },
  pqBits: { type: 'integer', min: 1, max: 16, help: 'ivfpq: bits per sub-quantizer code (default 8)' },
  hnswM: { type: 'integer', min: 2, help: 'hnsw: graph degree (default 32)' },
  efSearch: { type: 'integer', min: 1, help: 'hnsw: search breadth (default 128, at least the depth)' },
  trainRows: { type: 'integer', min: 1, help: 'ivf/ivfpq: rows sampled (seeded) to train on (default 39·nlist, ≥ 9984 for PQ, ≤ 2^24 floats)' },
  recallQueries: { type: 'integer', min: 0, default: 200, help: 'approximate --index: recall@depth against exact search on this many sampled questions (0: skip)' },
} as const;

/** The index settings from parsed options. */
export function indexSettings(o: { index?: IndexKind; search?: IndexBackend; threads?: number; nlist?: number; nprobe?: number; pqM?: number; pqBits?: number; hnswM?: number; efSearch?: number; trainRows?: number; recallQueries?: number; seed?: number }): VectorIndexOptions {
  return { kind: o.index, backend: o.search, threads: o.threads, nlist: o.nlist, nprobe: o.nprobe, pqM: o.pqM, pqBits: o.pqBits, hnswM: o.hnswM, efSearch: o.efSearch, trainRows: o.trainRows, recallQueries: o.recallQueries, seed: o.seed };
}

/** What both backends offer. */
export interface VectorIndex {
  /** Which search serves queries, for logs: `faiss IndexFlatIP (…path)`, `exact JS`. */
  readonly description: string;
  readonly dim: number;
  readonly size: number;
  /** Appends rows (n × dim, row-major); row ids continue from `size`. */
  add(vectors: Float32Array): void;
  /** Top-k rows by inner product for each query (nq × dim). */
  search(queries: Float32Array, k: number): Promise<TopK>;
}

/**
 * Which search `backend` gives here: `faiss` when the addon loads (and is allowed), else `exact`;
 * `faiss` insisted on but missing is an error.
 */
export function resolveBackend(backend: IndexBackend = 'auto'): 'faiss' | 'exact' {
  if (backend === 'exact') return 'exact';
  if (loadFaiss()) return 'faiss';
  if (backend === 'faiss') throw new Error(`faiss-node is not available (run scripts/build-faiss-node.sh)${loadErrors.length ? ': ' + loadErrors.join('; ') : ''}`);
  return 'exact';
}

/**
 * Creates an inner-product index.
 * @example
 * const index = createVectorIndex(768, { kind: 'flat' });
 * index.add(passageVectors);
 * const hits = await index.search(queryVectors, 100); // hits.ids[q * 100 + r]
 */
export function createVectorIndex(dim: number, opts: VectorIndexOptions = {}): VectorIndex {
  const kind = opts.kind ?? 'flat';
  const backend = opts.backend ?? 'auto';
  const faiss = backend === 'exact' ? undefined : loadFaiss();
  if (!faiss) {
    if (backend === 'faiss') {
      throw new Error(`faiss-node is not available (run scripts/build-faiss-node.sh)${loadErrors.length ? ': ' + loadErrors.join('; ') : ''}`);
    }
    const why = backend === 'exact' ? 'by request' : 'faiss-node not built (scripts/build-faiss-node.sh)';
    return new ExactIndex(dim, opts, `exact JS inner-product search (${why}${kind === 'hnsw' ? '; HNSW needs faiss, exact used instead' : ''})`);
  }
  if (faiss.addon.setThreads && opts.threads) faiss.addon.setThreads(opts.threads);
  const native =
    kind === 'hnsw'
      ? faiss.addon.Index.fromFactory(dim, `HNSW${opts.hnswM ?? 32}`, METRIC_INNER_PRODUCT)
      : new faiss.addon.IndexFlatIP(dim);
  const name = kind === 'hnsw' ? `IndexHNSWFlat M=${opts.hnswM ?? 32}` : 'IndexFlatIP';
  return new FaissIndex(dim, native, Boolean(faiss.addon.typedArrays), opts, `faiss ${name} (${faiss.source})`);
}

class ExactIndex implements VectorIndex {
  private matrix: Float32Array;
  size = 0;

  constructor(
    readonly dim: number,
    private readonly opts: VectorIndexOptions,
    readonly description: string,
  ) {
    this.matrix = new Float32Array(new SharedArrayBuffer((opts.capacity ?? 1024) * dim * 4));
  }

  add(vectors: Float32Array): void {
    if (vectors.length % this.dim !== 0) throw new Error(`add: ${vectors.length} floats is not a multiple of dim ${this.dim}`);
    const needed = this.size * this.dim + vectors.length;
    if (needed > this.matrix.length) {
      // Grow by doubling; with `capacity` given this never happens.
      const grown = new Float32Array(new SharedArrayBuffer(Math.max(needed, this.matrix.length * 2) * 4));
      grown.set(this.matrix.subarray(0, this.size * this.dim));
      this.matrix = grown;
    }
    this.matrix.set(vectors, this.size * this.dim);
    this.size += vectors.length / this.dim;
  }

  async search(queries: Float32Array, k: number): Promise<TopK> {
    return exactSearchParallel(toShared(this.matrix.subarray(0, this.size * this.dim)), this.dim, queries, k, { threads: this.opts.threads });
  }
}

// Rows converted per call when the addon only takes JS arrays (bounds the temporary array's memory).
const ARRAY_BATCH_ROWS = 4096;

class FaissIndex implements VectorIndex {
  constructor(
    readonly dim: number,
    private readonly native: FaissNativeIndex,
    private readonly typedArrays: boolean,
    private readonly opts: VectorIndexOptions,
    readonly description: string,
  ) {}

  get size(): number {
    return this.native.ntotal();
  }

  add(vectors: Float32Array): void {
    if (vectors.length % this.dim !== 0) throw new Error(`add: ${vectors.length} floats is not a multiple of dim ${this.dim}`);
    if (this.typedArrays) {
      this.native.add(vectors);
      return;
    }
    const step = ARRAY_BATCH_ROWS * this.dim;
    for (let i = 0; i < vectors.length; i += step) this.native.add(Array.from(vectors.subarray(i, i + step)));
  }

  async search(queries: Float32Array, k: number): Promise<TopK> {
    const nq = queries.length / this.dim;
    const kk = Math.min(k, this.size);
    const ids = new Int32Array(nq * k).fill(-1);
    const scores = new Float32Array(nq * k).fill(-Infinity);
    if (kk === 0 || nq === 0) return { nq, k, ids, scores };
    if (this.native.setParam && this.opts.kind === 'hnsw') this.native.setParam('efSearch', Math.max(this.opts.efSearch ?? 128, kk));
    const res = this.native.search(this.typedArrays ? queries : Array.from(queries), kk);
    for (let q = 0; q < nq; q++) {
      for (let r = 0; r < kk; r++) {
        const label = res.labels[q * kk + r];
        // HNSW may find fewer than k: faiss marks the gap with label -1.
        ids[q * k + r] = label;
        scores[q * k + r] = label < 0 ? -Infinity : res.distances[q * kk + r];
      }
    }
    return { nq, k, ids, scores };
  }
}
