/**
 * Encodes a corpus with a passage encoder into an embeddings directory (see io/embeddings.ts),
 * in batches, with progress and passages/s; a rerun after a kill resumes after the last shard.
 */
import { EmbeddingsWriter, firstNonFinite, type EmbeddingsCorpus, type EmbeddingsManifest } from '../../io/embeddings.ts';
import type { Encoder, Passage } from '../../types.ts';
import { InputError } from '../../util/errors.ts';
import { Progress } from '../../util/progress.ts';

export interface EncodeCorpusOptions {
  /** Passages per encoder call. */
  batchSize?: number;
  shardRows?: number;
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
 * Encodes every passage into `outDir`.
 * @example
 * const enc = await loadEncoder('runs/stage1/passage_encoder');
 * const r = await encodeCorpus(readCorpus('corpus.jsonl'), enc, 'emb/', { batchSize: 256 });
 * console.log(`${r.passagesPerSecond.toFixed(0)} passages/s`);
 */
export async function encodeCorpus(passages: AsyncIterable<Passage>, encoder: Encoder, outDir: string, opts: EncodeCorpusOptions = {}): Promise<EncodeCorpusResult> {
  const start = Date.now();
  const writer = await EmbeddingsWriter.open(outDir, { dim: encoder.dim, shardRows: opts.shardRows, model: opts.model, corpus: opts.corpus, overwrite: opts.overwrite });
  const resumed = writer.resumedRows;
  if (writer.complete) {
    return { manifest: await writer.finish(), encoded: 0, resumed, seconds: 0, passagesPerSecond: 0 };
  }
  const batchSize = opts.batchSize ?? 256;
  const progress = new Progress(`encode ${opts.corpusName ?? ''}`.trim(), { total: opts.total, unit: 'passages' });
  if (resumed) progress.tick(resumed, `resumed after ${resumed}`);
  let position = 0;
  let encoded = 0;
  let batch: Passage[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const vectors = await encoder.encode(batch.map((p) => ({ text: p.text, title: p.title }))); // [batch, dim]
    const bad = firstNonFinite(vectors);
    if (bad >= 0) {
      const row = Math.floor(bad / encoder.dim);
      throw new InputError(opts.corpusName ?? 'corpus', `passage ${position - batch.length + row + 1}`, 'passage_id', `the encoder gave a non-finite vector (dim ${bad % encoder.dim} is ${vectors[bad]}) for "${batch[row].passage_id}": its weights or settings are broken; nothing was written for this batch`);
    }
    await writer.add(batch.map((p) => p.passage_id), vectors);
    encoded += batch.length;
    progress.tick(batch.length);
    batch = [];
  };
  for await (const passage of passages) {
    position++;
    if (position <= resumed) {
      if (position === resumed && writer.lastResumedId !== undefined && passage.passage_id !== writer.lastResumedId) {
        throw new InputError(opts.corpusName ?? 'corpus', `passage ${position}`, 'passage_id', `is "${passage.passage_id}" but the kept shards end with "${writer.lastResumedId}": the corpus changed; re-encode with --overwrite`);
      }
      continue;
    }
    batch.push(passage);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  const manifest = await writer.finish();
  const seconds = (Date.now() - start) / 1000;
  const passagesPerSecond = encoded / Math.max(seconds, 1e-3);
  progress.finish(`${passagesPerSecond.toFixed(1)} passages/s`);
  return { manifest, encoded, resumed, seconds, passagesPerSecond };
}
