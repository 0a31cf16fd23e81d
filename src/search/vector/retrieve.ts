/**
 * The steps dense mining and dense evaluation share: load embeddings into an index, encode and
 * search questions in batches, and fetch the text of just the passages that were retrieved.
 * Encoders are the caller's (commands open them with trainer/encoder.ts's `openEncoder`), so
 * search/ never loads the trainer or tfjs itself.
 */
import { readCorpus, type CorpusColumns } from '../../io/corpus.ts';
import { checkEmbeddingsSource, readEmbeddingShards, readEmbeddingsManifest, type EmbeddingsSource } from '../../io/embeddings.ts';
import type { EncodeInput, Encoder, Passage, PreparedInputs } from '../../types.ts';
import { InputError } from '../../util/errors.ts';
import { Progress } from '../../util/progress.ts';
import { createVectorIndex, type VectorIndex, type VectorIndexOptions } from './index.ts';
import type { TopK } from './exact.ts';

export interface LoadedIndex {
  index: VectorIndex;
  /** Passage id of each index row. */
  rowIds: string[];
  /** Vectors of the ids asked for in `capture` (e.g. positives, for the score margin). */
  captured: Map<string, Float32Array>;
}

/**
 * Builds an index from an embeddings directory, shard by shard; with `source`, first refuses
 * embeddings made from another corpus or passage encoder (manifest hashes, io/embeddings.ts).
 * @example const { index, rowIds } = await loadEmbeddingsIndex('emb/', { kind: 'flat' }, undefined, { corpus: 'corpus.jsonl' });
 */
export async function loadEmbeddingsIndex(dir: string, indexOpts: VectorIndexOptions = {}, capture?: ReadonlySet<string>, source?: EmbeddingsSource): Promise<LoadedIndex> {
  const manifest = await readEmbeddingsManifest(dir);
  if (source) await checkEmbeddingsSource(dir, source);
  const index = createVectorIndex(manifest.dim, { ...indexOpts, capacity: manifest.count });
  const rowIds: string[] = [];
  const captured = new Map<string, Float32Array>();
  const progress = new Progress('index', { total: manifest.count, unit: 'vectors' });
  for await (const shard of readEmbeddingShards(dir)) {
    index.add(shard.vectors);
    for (let i = 0; i < shard.ids.length; i++) {
      rowIds.push(shard.ids[i]);
      if (capture?.has(shard.ids[i])) captured.set(shard.ids[i], shard.vectors.slice(i * manifest.dim, (i + 1) * manifest.dim));
    }
    progress.tick(shard.ids.length);
  }
  progress.finish();
  return { index, rowIds, captured };
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
 */
export async function fetchPassages(corpusFile: string, wanted: ReadonlySet<string>, columns?: CorpusColumns): Promise<Map<string, Passage>> {
  const found = new Map<string, Passage>();
  const progress = new Progress('read corpus', { unit: 'passages' });
  for await (const p of readCorpus(corpusFile, { columns })) {
    if (wanted.has(p.passage_id)) found.set(p.passage_id, p);
    progress.tick();
  }
  progress.finish();
  if (found.size < wanted.size) {
    const missing = [...wanted].filter((id) => !found.has(id));
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
