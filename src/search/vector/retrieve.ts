/**
 * The steps dense mining and dense evaluation share: encode the questions, search the embeddings
 * shard by shard (or a corpus encoded into an index now), and fetch the text of just the passages
 * that were retrieved.
 * Encoders are the caller's (commands open them with trainer/encoder.ts's `openEncoder`), so
 * search/ never loads the trainer or tfjs itself.
 */
import { readCorpus, type CorpusColumns } from '../../io/corpus.ts';
import { checkEmbeddingsSource, readEmbeddingIdShards, readEmbeddingShards, readEmbeddingsManifest, type EmbeddingsManifest, type EmbeddingsSource } from '../../io/embeddings.ts';
import { searchEmbeddingShards, type ShardedSearchResult } from './sharded.ts';
import type { RecallReport, RecallScope } from './ann.ts';
import type { EncodeInput, Encoder, Passage, PreparedInputs } from '../../types.ts';
import { InputError } from '../../util/errors.ts';
import { Progress } from '../../util/progress.ts';
import { createVectorIndex, type VectorIndex, type VectorIndexOptions } from './index.ts';
import type { TopK } from './exact.ts';

/** What searchEmbeddings returns: the sharded search's result (less its memory probe), plus an approximate index's report. */
export interface EmbeddingsRetrieval extends Omit<ShardedSearchResult, 'peakResidentRows'> {
  /** Approximate index only: recall@k against the exact search on a sample of the queries. */
  recall?: RecallReport;
  /** Approximate index only: the index file, and whether it was reused from an earlier run. */
  annFile?: string;
  annReused?: boolean;
}

/**
 * The manifest of an embeddings directory; with `source`, first refuses embeddings made from
 * another corpus or passage encoder (manifest hashes, io/embeddings.ts). Callers check before
 * they encode any question.
 * @example const { dim } = await openEmbeddings('emb/', { corpus: 'corpus.jsonl' });
 */
export async function openEmbeddings(dir: string, source?: EmbeddingsSource): Promise<EmbeddingsManifest> {
  const manifest = await readEmbeddingsManifest(dir);
  if (source) await checkEmbeddingsSource(dir, source);
  return manifest;
}

/**
 * Searches an embeddings directory with query vectors: exact, shard by shard (sharded.ts), so
 * memory holds one shard at a time; or, with an approximate `index.kind` (ivf, ivfpq, hnsw), in
 * a faiss index built from the shards or reused (ann.ts), with its recall@k against the exact
 * search measured on a seeded sample of the queries.
 * @example const { hits, rowIds } = await searchEmbeddings('emb/', queryVectors, 100, { index: { backend: 'auto' } });
 */
export async function searchEmbeddings(
  dir: string,
  queries: Float32Array,
  k: number,
  opts: { index?: VectorIndexOptions; capture?: ReadonlySet<string>; log?: (message: string) => void; recallScope?: RecallScope } = {},
): Promise<EmbeddingsRetrieval> {
  const manifest = await readEmbeddingsManifest(dir);
  const depth = Math.min(k, manifest.count);
  const io = opts.index ?? {};
  if (!io.kind || io.kind === 'flat') return searchEmbeddingShards(dir, queries, depth, { index: io, capture: opts.capture });
  const { openAnnIndex, recallAgainstExact, searchAnn } = await import('./ann.ts');
  const ann = await openAnnIndex(dir, { ...io, kind: io.kind }, opts.log);
  const hits = searchAnn(ann, queries, depth);
  // The ids of the rows retrieved (and the vectors asked for), one shard file at a time.
  const wanted = new Set(hits.ids);
  const rowIds = new Map<number, string>();
  const captured = new Map<string, Float32Array>();
  let shards = 0;
  const keep = (rowOffset: number, ids: string[], vectors?: Float32Array) => {
    shards++;
    ids.forEach((id, i) => {
      if (wanted.has(rowOffset + i)) rowIds.set(rowOffset + i, id);
      if (vectors && opts.capture?.has(id)) captured.set(id, vectors.slice(i * manifest.dim, (i + 1) * manifest.dim));
    });
  };
  if (opts.capture?.size) for await (const s of readEmbeddingShards(dir)) keep(s.rowOffset, s.ids, s.vectors);
  else for await (const s of readEmbeddingIdShards(dir)) keep(s.rowOffset, s.ids);
  const recall = io.recallQueries === 0 ? undefined : await recallAgainstExact(dir, queries, hits, io.recallQueries ?? 200, io.seed ?? 13, io.threads, opts.recallScope);
  if (recall) opts.log?.(`index: recall@${recall.k} of ${ann.spec.factory} against exact search, on ${recall.queries} sampled queries: ${recall.recall.toFixed(4)}`);
  return { hits, rowIds, captured, size: manifest.count, shards, description: ann.description, recall, annFile: ann.file, annReused: ann.reused };
}

/**
 * Encodes questions in batches (nq × dim, row-major), checking they have the embeddings' dim.
 * @example const vectors = await encodeQuestions(['who wrote x?'], queryEncoder, 768);
 */
export async function encodeQuestions(questions: readonly string[], encoder: Encoder, dim: number, batchSize = 256): Promise<Float32Array> {
  if (encoder.dim !== dim) throw new Error(`the query encoder gives ${encoder.dim}-d vectors but the passage embeddings are ${dim}-d`);
  const out = new Float32Array(questions.length * dim);
  const progress = new Progress('encode questions', { total: questions.length, unit: 'questions' });
  for (let start = 0; start < questions.length; start += batchSize) {
    const batch = questions.slice(start, start + batchSize);
    out.set(await encoder.encode(batch.map((text) => ({ text }))), start * dim); // [batch, dim]
    progress.tick(batch.length);
  }
  progress.finish();
  return out;
}

/** Encodes a corpus straight into an index (no shards), for evaluating small corpora. */
export async function indexCorpus(passages: AsyncIterable<Passage>, encoder: Encoder, indexOpts: VectorIndexOptions = {}, batchSize = 256): Promise<{ index: VectorIndex; rowIds: string[] }> {
  const index = createVectorIndex(encoder.dim, indexOpts);
  const rowIds: string[] = [];
  const progress = new Progress('encode corpus', { unit: 'passages' });
  let batch: Passage[] = [];
  // The batch read last is tokenized while the one before it runs.
  let waiting: { passages: Passage[]; vectors: (() => Promise<Float32Array>) } | undefined;
  const runWaiting = async () => {
    if (!waiting) return;
    const { passages: ps, vectors } = waiting;
    waiting = undefined;
    index.add(await vectors()); // [batch, dim]
    for (const p of ps) rowIds.push(p.passage_id);
    progress.tick(ps.length);
  };
  const flush = async () => {
    if (batch.length === 0) return;
    const inputs = batch.map((p) => ({ text: p.text, title: p.title }));
    let vectors: () => Promise<Float32Array>;
    if (encoder.prepare && encoder.encodePrepared) {
      const prepared = encoder.prepare(inputs);
      prepared.catch(() => {}); // awaited when its turn comes
      vectors = async () => encoder.encodePrepared!(await prepared);
    } else vectors = () => encoder.encode(inputs);
    const next = { passages: batch, vectors };
    batch = [];
    await runWaiting();
    waiting = next;
  };
  for await (const p of passages) {
    batch.push(p);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  await runWaiting();
  progress.finish();
  return { index, rowIds };
}

/**
 * Encodes questions in batches and searches each batch; returns all hits and the query vectors.
 * @example const { hits } = await searchQuestions(['who wrote x?'], queryEncoder, index, 100);
 */
export async function searchQuestions(
  questions: readonly string[],
  encoder: Encoder,
  index: VectorIndex,
  k: number,
  batchSize = 256,
): Promise<{ hits: TopK; queryVectors: Float32Array }> {
  const nq = questions.length;
  const dim = encoder.dim;
  if (dim !== index.dim) throw new Error(`the query encoder gives ${dim}-d vectors but the passage embeddings are ${index.dim}-d`);
  const ids = new Int32Array(nq * k);
  const scores = new Float32Array(nq * k);
  const queryVectors = new Float32Array(nq * dim);
  const progress = new Progress('search', { total: nq, unit: 'questions' });
  const encodeAhead = overlapped(encoder, (start: number) => questions.slice(start, start + batchSize).map((text) => ({ text })));
  for (let start = 0; start < nq; start += batchSize) {
    const batch = questions.slice(start, start + batchSize);
    // The next batch is tokenized while this one runs.
    const vectors = await encodeAhead(start, start + batchSize < nq ? start + batchSize : undefined); // [batch, dim]
    queryVectors.set(vectors, start * dim);
    const hits = await index.search(vectors, k); // ids/scores: [batch, k]
    ids.set(hits.ids, start * k);
    scores.set(hits.scores, start * k);
    progress.tick(batch.length);
  }
  progress.finish();
  return { hits: { nq, k, ids, scores }, queryVectors };
}

/**
 * `encode(at)` that starts tokenizing the inputs at `next` before running those at `at`, for
 * encoders that split encoding in two (Encoder.prepare); other encoders just encode.
 */
function overlapped(encoder: Encoder, inputsAt: (at: number) => EncodeInput[]): (at: number, next?: number) => Promise<Float32Array> {
  if (!encoder.prepare || !encoder.encodePrepared) return (at) => encoder.encode(inputsAt(at));
  const ahead = new Map<number, Promise<PreparedInputs>>();
  const prepare = (at: number) => {
    const p = encoder.prepare!(inputsAt(at));
    p.catch(() => {}); // awaited when its turn comes
    ahead.set(at, p);
  };
  return async (at, next) => {
    if (!ahead.has(at)) prepare(at);
    const current = ahead.get(at)!;
    ahead.delete(at);
    if (next !== undefined) prepare(next);
    return encoder.encodePrepared!(await current);
  };
}

/**
 * Streams the corpus once and keeps only the passages whose ids are wanted; a wanted id missing
 * from the corpus means embeddings and corpus do not belong together, which stops with an error.
 * Ids in `ifPresent` are kept too when the corpus has them (no error when it does not).
 */
export async function fetchPassages(corpusFile: string, wanted: ReadonlySet<string>, columns?: CorpusColumns, ifPresent?: ReadonlySet<string>): Promise<Map<string, Passage>> {
  const found = new Map<string, Passage>();
  const progress = new Progress('read corpus', { unit: 'passages' });
  for await (const p of readCorpus(corpusFile, { columns })) {
    if (wanted.has(p.passage_id) || ifPresent?.has(p.passage_id)) found.set(p.passage_id, p);
    progress.tick();
  }
  progress.finish();
  const missing = [...wanted].filter((id) => !found.has(id));
  if (missing.length > 0) {
    throw new InputError(corpusFile, undefined, 'passage_id', `${missing.length} retrieved passage(s) are not in this corpus (e.g. "${missing[0]}"): were the embeddings made from another corpus?`);
  }
  return found;
}

/** Inner product of two equal-length vectors (a query and a passage). */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
