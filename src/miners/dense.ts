/**
 * Dense hard-negative mining: search each question with the stage-1 query encoder over the
 * stage-1 passage embeddings, and keep as hard negatives the passages the model confuses with
 * the answer, after the same filters as BM25 mining (positives, DPR has_answer) plus the rank
 * window (`skipTop`) and score margins to every positive (`maxScoreRatio`, `maxScoreMargin`:
 * filter.ts's marginCeiling, correct for any score sign).
 *
 * Input: DPR records (JSON array or JSONL) with positive_ctxs; a corpus; an embeddings dir.
 * Output: the same records with `hard_negative_ctxs` replaced by the dense negatives (or appended
 * to the existing ones with `keepExisting`), each with its dense score; records that cannot be
 * mined (no positive, no usable answer, empty question) are skipped with a counted reason.
 * Options: the shared miner settings (options.ts: depth, negatives, strategy, seed, match,
 * checkTitle), skipTop, maxScoreRatio, maxScoreMargin. Skips follow skipReason (filter.ts), as BM25 mining's do.
 *
 * Example: dprep mine dense --query-model runs/stage1/query_encoder --embeddings emb/ \
 *            --examples squad.dpr.json --corpus squad.corpus.jsonl --out squad.densehn.json
 *
 * Memory: the index, the hits (questions × depth × 8 bytes) and the retrieved passages' text.
 * Records are streamed twice rather than held.
 */
import { openRecordWriter } from '../io/records.ts';
import { readDprRecords } from '../io/records.ts';
import { AnswerMatcher } from '../text/answer.ts';
import type { Ctx, Encoder } from '../types.ts';
import { deriveSeed, seededRandom } from '../util/random.ts';
import { Summary } from '../util/summary.ts';
import { Progress } from '../util/progress.ts';
import { addCounts, admitForMining, emptyCounts, marginCeiling, normalizeForDedup, selectNegatives, skipReason, type FilterCounts, type Hit } from './filter.ts';
import type { MinerSettings } from './options.ts';
import { dot, fetchPassages, loadEmbeddingsIndex, searchQuestions } from '../search/vector/retrieve.ts';
import type { VectorIndexOptions } from '../search/vector/index.ts';
import type { CorpusColumns } from '../io/corpus-columns.ts';
import type { EmbeddingsSource } from '../io/embeddings.ts';
import { BadRecords } from '../util/bad-records.ts';

export interface DenseMiningOptions extends MinerSettings {
  examples: string;
  corpus: string;
  /** Layout of a headerless 3-column TSV corpus (`--columns`). */
  corpusColumns?: CorpusColumns;
  embeddings: string;
  /** The passage encoder the embeddings must come from (content hash), when the caller knows it. */
  embeddingsModel?: EmbeddingsSource['model'];
  out: string;
  queryEncoder: Encoder;
  /** Ranks 0..skipTop-1 are never negatives (likely false negatives). */
  skipTop: number;
  /** Drop hits scoring above pos − (1 − ratio)·|pos|, pos the lowest positive score (marginCeiling). */
  maxScoreRatio?: number;
  /** Drop hits scoring above pos − margin. */
  maxScoreMargin?: number;
  keepExisting: boolean;
  index: VectorIndexOptions;
  /** Questions per encode + search call. */
  queryBatch?: number;
  /** Leave out bad records, counted by reason in the summary, instead of stopping (--skip-bad). */
  skipBad?: boolean;
  log(message: string): void;
}

export interface DenseMiningResult {
  summary: Summary;
  /** What each filter removed, summed over questions. */
  counts: FilterCounts;
  /** The search that served the queries. */
  searchBackend: string;
}

/**
 * Mines dense hard negatives and writes the records to `opts.out`.
 * @example
 * const { summary, counts } = await mineDense({ examples: 'train.json', corpus: 'corpus.jsonl',
 *   embeddings: 'emb/', out: 'train.densehn.json', queryEncoder, depth: 200, negatives: 30,
 *   skipTop: 3, strategy: 'top', seed: 7, match: 'string', checkTitle: false,
 *   keepExisting: false, index: { kind: 'flat' }, log: console.error });
 */
export async function mineDense(opts: DenseMiningOptions): Promise<DenseMiningResult> {
  const summary = new Summary('mine.dense', [opts.examples, opts.corpus, opts.embeddings]);

  // Pass 1: the questions and gold positives of the mineable records.
  const questions: string[] = [];
  const positiveIds: string[][] = [];
  const bad = new BadRecords(opts.skipBad, summary);
  for await (const { record, where } of readDprRecords(opts.examples, { onBad: bad.onBad })) {
    summary.read++;
    if (!admitForMining(record, where, summary)) continue;
    questions.push(record.question);
    positiveIds.push(record.positive_ctxs.map((c) => c.passage_id));
  }

  const margins = opts.maxScoreRatio !== undefined || opts.maxScoreMargin !== undefined;
  const needGold = margins ? new Set(positiveIds.flat()) : undefined;
  const { index, rowIds, captured } = await loadEmbeddingsIndex(opts.embeddings, opts.index, needGold, { corpus: opts.corpus, model: opts.embeddingsModel });
  opts.log(`mine dense: ${index.size} passages indexed with ${index.description}`);
  const depth = Math.min(opts.depth, index.size);
  const { hits, queryVectors } = await searchQuestions(questions, opts.queryEncoder, index, depth, opts.queryBatch);

  const wanted = new Set<string>();
  for (const row of hits.ids) if (row >= 0) wanted.add(rowIds[row]);
  const passages = await fetchPassages(opts.corpus, wanted, opts.corpusColumns);

  // Pass 2: filter, sample and write, record by record.
  const dim = opts.queryEncoder.dim;
  const counts = emptyCounts();
  const writer = await openRecordWriter(opts.out);
  const progress = new Progress('mine dense', { total: questions.length, unit: 'questions' });
  let q = 0;
  let short = 0;
  let noGoldVector = 0;
  try {
    // The same records as pass 1: its bad ones were counted there.
    for await (const { record } of readDprRecords(opts.examples, { onBad: bad.onBad && (() => {}) })) {
      if (skipReason(record)) continue;
      const ranked: Hit[] = [];
      for (let r = 0; r < depth; r++) {
        const row = hits.ids[q * depth + r];
        if (row < 0) break;
        ranked.push({ passage: passages.get(rowIds[row])!, score: hits.scores[q * depth + r], rank: r });
      }
      let maxScore: number | undefined;
      if (margins) {
        // Every positive with an embedding is scored: the margin is to the lowest of them.
        const query = queryVectors.subarray(q * dim, (q + 1) * dim);
        const scores = positiveIds[q].flatMap((id) => (captured.has(id) ? [dot(query, captured.get(id)!)] : []));
        maxScore = marginCeiling(scores, opts);
        if (scores.length === 0) noGoldVector++;
      }
      const { negatives, counts: one } = selectNegatives(ranked, {
        matcher: new AnswerMatcher(record.answers, opts.match),
        checkTitle: opts.checkTitle,
        positiveIds: new Set(record.positive_ctxs.map((c) => c.passage_id)),
        positiveTexts: new Set(record.positive_ctxs.map((c) => normalizeForDedup(c.text))),
        count: opts.negatives,
        strategy: opts.strategy,
        skipTop: opts.skipTop,
        maxScore,
        rng: seededRandom(deriveSeed(opts.seed, 'mine.dense', q)),
      });
      addCounts(counts, one);
      if (negatives.length < opts.negatives) short++;
      const dense: Ctx[] = negatives.map((h) => ({ title: h.passage.title, text: h.passage.text, score: h.score, passage_id: h.passage.passage_id }));
      const hard = opts.keepExisting ? mergeNegatives(record.hard_negative_ctxs, dense) : dense;
      await writer.write({ ...record, hard_negative_ctxs: hard });
      summary.converted++;
      progress.tick();
      q++;
    }
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  progress.finish();
  for (const [name, n] of Object.entries(counts)) summary.count(`hits ${name === 'hits' ? 'retrieved' : name === 'kept' ? 'kept as negatives' : 'removed: ' + name}`, n);
  summary.count(`questions with fewer than ${opts.negatives} negatives`, short);
  if (margins) summary.count('questions without a positive embedding (no margin applied)', noGoldVector);
  return { summary, counts, searchBackend: index.description };
}

// Existing (e.g. BM25) negatives first, then dense ones not already there.
function mergeNegatives(existing: readonly Ctx[], dense: readonly Ctx[]): Ctx[] {
  const ids = new Set(existing.map((c) => c.passage_id));
  return [...existing, ...dense.filter((c) => !ids.has(c.passage_id))];
}
