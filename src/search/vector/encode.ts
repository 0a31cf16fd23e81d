/**
 * Encodes a corpus with a passage encoder into an embeddings directory (see io/embeddings.ts),
 * with progress and passages/s; a rerun after a kill resumes after the last shard.
 *
 * Passages go to the encoder in windows of global row positions: `[shardStart + j·W, …)` clipped
 * to the shard `[k·shardRows, (k+1)·shardRows)`. The encoder sorts a window by token length and
 * batches it in that order (trainer/encoder.ts, bucketBatches), so a batch is padded only to its
 * own longest member; vectors come back in corpus order. Windows and batches never cross a shard
 * file, and depend only on row positions and the window's contents: a resume (which starts at a
 * shard boundary), a rerun, or an encode of whole shards elsewhere gives the same bytes.
 * The next window is tokenized while the current one runs (Encoder.prepare), where the encoder
 * can.
 */
import { EmbeddingsWriter, firstNonFinite, type EmbeddingsCorpus, type EmbeddingsManifest } from '../../io/embeddings.ts';
import type { Encoder, Passage, PreparedInputs } from '../../types.ts';
import { InputError } from '../../util/errors.ts';
import { Progress } from '../../util/progress.ts';

/** Rows per window by default: enough for length buckets of many batches, bounded in memory. */
export const DEFAULT_WINDOW_ROWS = 1024;

export interface EncodeCorpusOptions {
  /** Passages per forward pass when the encoder has no batch of its own: default windows are at least this long. */
  batchSize?: number;
  /** Rows of one window the encoder sorts by length (default: DEFAULT_WINDOW_ROWS, or the batch when longer). */
  windowRows?: number;
  shardRows?: number;
  /** Tokenize the next window while the current one runs (default true; false: one after the other, for measuring). */
  overlap?: boolean;
  /** Identifies the model in the manifest (a resume must match it). */
  model?: Record<string, unknown>;
  corpus?: EmbeddingsCorpus | null;
  overwrite?: boolean;
  /** Passages in the corpus, when known (for the progress bar). */
  total?: number;
  /** Where to name the corpus in errors. */
  corpusName?: string;
}

export interface EncodeCorpusResult {
  manifest: EmbeddingsManifest;
  /** Rows encoded by this call. */
  encoded: number;
  /** Rows kept from an earlier run. */
  resumed: number;
  seconds: number;
  passagesPerSecond: number;
}

/**
 * The window a global row position falls in: `[start, end)`, never crossing a shard file.
 * @example windowOf(250, 100, 32) // { start: 232, end: 264 }
 * windowOf(297, 100, 32) // { start: 296, end: 300 }: clipped to the shard
 */
export function windowOf(position: number, shardRows: number, windowRows: number): { start: number; end: number } {
  const shardStart = position - (position % shardRows);
  const start = shardStart + Math.floor((position - shardStart) / windowRows) * windowRows;
  return { start, end: Math.min(start + windowRows, shardStart + shardRows) };
}

/**
 * Encodes every passage into `outDir`.
 * @example
 * const enc = await loadEncoder('runs/stage1/passage_encoder');
 * const r = await encodeCorpus(readCorpus('corpus.jsonl'), enc, 'emb/');
 * console.log(`${r.passagesPerSecond.toFixed(0)} passages/s`);
 */
export async function encodeCorpus(passages: AsyncIterable<Passage>, encoder: Encoder, outDir: string, opts: EncodeCorpusOptions = {}): Promise<EncodeCorpusResult> {
  const start = Date.now();
  const writer = await EmbeddingsWriter.open(outDir, { dim: encoder.dim, shardRows: opts.shardRows, model: opts.model, corpus: opts.corpus, overwrite: opts.overwrite });
  const resumed = writer.resumedRows;
  if (writer.complete) {
    return { manifest: await writer.finish(), encoded: 0, resumed, seconds: 0, passagesPerSecond: 0 };
  }
  const shardRows = writer.shardRows;
  const windowRows = Math.max(1, opts.windowRows ?? Math.max(DEFAULT_WINDOW_ROWS, encoder.batchSize ?? opts.batchSize ?? 1));
  const progress = new Progress(`encode ${opts.corpusName ?? ''}`.trim(), { total: opts.total, unit: 'passages' });
  if (resumed) progress.tick(resumed, `resumed after ${resumed}`);
  const prepare = (ps: Passage[]): Promise<PreparedInputs | readonly Passage[]> => {
    const inputs = ps.map((p) => ({ text: p.text, title: p.title }));
    return encoder.prepare && encoder.encodePrepared ? encoder.prepare(inputs) : Promise.resolve(ps);
  };
  const run = (prepared: PreparedInputs | readonly Passage[]): Promise<Float32Array> =>
    Array.isArray(prepared) ? encoder.encode(prepared.map((p: Passage) => ({ text: p.text, title: p.title }))) : encoder.encodePrepared!(prepared as PreparedInputs);
  let position = 0;
  let encoded = 0;
  // The window being filled, and the one tokenized and waiting for its forward passes.
  let window: Passage[] = [];
  let waiting: { passages: Passage[]; first: number; prepared: Promise<PreparedInputs | readonly Passage[]> } | undefined;
  const runWaiting = async () => {
    if (!waiting) return;
    const { passages: batch, first } = waiting;
    const vectors = await run(await waiting.prepared); // [batch, dim]
    waiting = undefined;
    const bad = firstNonFinite(vectors);
    if (bad >= 0) {
      const row = Math.floor(bad / encoder.dim);
      throw new InputError(opts.corpusName ?? 'corpus', `passage ${first + row + 1}`, 'passage_id', `the encoder gave a non-finite vector (dim ${bad % encoder.dim} is ${vectors[bad]}) for "${batch[row].passage_id}": its weights or settings are broken; nothing was written for this batch`);
    }
    await writer.add(batch.map((p) => p.passage_id), vectors);
    encoded += batch.length;
    progress.tick(batch.length);
  };
  // A full window is tokenized at once, then the one before it runs: its tokenization overlaps those forward passes.
  const closeWindow = async () => {
    if (window.length === 0) return;
    const next = { passages: window, first: position - window.length, prepared: prepare(window) };
    next.prepared.catch(() => {}); // awaited below; a tokenizer error must not surface as unhandled first
    window = [];
    await runWaiting();
    waiting = next;
    if (opts.overlap === false) await runWaiting();
  };
  try {
    for await (const passage of passages) {
      position++;
      if (position <= resumed) {
        if (position === resumed && writer.lastResumedId !== undefined && passage.passage_id !== writer.lastResumedId) {
          throw new InputError(opts.corpusName ?? 'corpus', `passage ${position}`, 'passage_id', `is "${passage.passage_id}" but the kept shards end with "${writer.lastResumedId}": the corpus changed; re-encode with --overwrite`);
        }
        continue;
      }
      window.push(passage);
      // Row position - 1 just joined; its window ends where the next position starts a new one.
      if (windowOf(position - 1, shardRows, windowRows).end === position) await closeWindow();
    }
  } catch (err) {
    // The corpus stopped (a bad record): the window already read is still encoded, so every shard it completes is kept for the resume.
    await runWaiting().catch(() => {});
    throw err;
  }
  await closeWindow();
  await runWaiting();
  const manifest = await writer.finish();
  const seconds = (Date.now() - start) / 1000;
  const passagesPerSecond = encoded / Math.max(seconds, 1e-3);
  progress.finish(`${passagesPerSecond.toFixed(1)} passages/s`);
  return { manifest, encoded, resumed, seconds, passagesPerSecond };
}
