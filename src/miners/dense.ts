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
 * `<out>.mining.json`: the filter totals and a histogram of the positives', kept negatives' and
 * answer-bearing hits' dense scores (util/score-histogram.ts), like BM25 mining's report.
 * Options: the shared miner settings (options.ts: depth, negatives, strategy, seed, match,
 * checkTitle), skipTop, maxScoreRatio, maxScoreMargin. Skips follow skipReason (filter.ts), as BM25 mining's do.
 *
 * Example: dprep mine dense --query-model runs/stage1/query_encoder --embeddings emb/ \
 *            --examples squad.dpr.json --corpus squad.corpus.jsonl --out squad.densehn.json
 *
 * Memory: one embeddings shard at a time (searched shard by shard, exact), the question vectors,
 * the hits (questions × depth × 8 bytes), the positives' vectors (at most one per question and
 * positive, like the query vectors) and the retrieved passages' text.
 * Records are streamed twice rather than held.
 */
import { openRecordWriter } from '../io/records.ts';
import { readDprRecords } from '../io/records.ts';
import { AnswerMatcher } from '../text/answer.ts';
import type { Ctx, Encoder } from '../types.ts';
import { deriveSeed, seededRandom } from '../util/random.ts';
import { Summary } from '../util/summary.ts';
import { Progress } from '../util/progress.ts';
import { addCounts, admitForMining, emptyCounts, marginCeiling, normalizeForDedup, samplingKey, selectNegatives, skipReason, type FilterCounts, type Hit } from './filter.ts';
import type { MinerSettings } from './options.ts';
import { dot, encodeQuestions, fetchPassages, openEmbeddings, searchEmbeddings } from '../search/vector/retrieve.ts';
import type { VectorIndexOptions } from '../search/vector/index.ts';
import type { RecallReport } from '../search/vector/ann.ts';
import type { CorpusColumns } from '../io/corpus-columns.ts';
import { checkPositivesAgainstCorpus } from './positive-check.ts';
import type { EmbeddingsSource } from '../io/embeddings.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { ScoreHistogram, type ScoreHistogramJson } from '../util/score-histogram.ts';
import { BadRecords } from '../util/bad-records.ts';
import { unitOnBad } from '../util/units.ts';

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
  /**
   * Work-unit mode: mine only records [start, end) of the examples (0-based positions in the file).
   * Questions are still encoded and searched in the batches of a whole run (batch b = mineable
   * questions [b·queryBatch, (b+1)·queryBatch) of the whole file; the unit's first and last batches are
   * done whole), so every score is the one a whole run computes, bit for bit. Positions count good
   * records only; a bad one (--skip-bad) is counted by one unit (ownsBadRecord).
   */
  range?: { unit: number; start: number; end: number };
  /** Leave out bad records, counted by reason in the summary, instead of stopping (--skip-bad). */
  skipBad?: boolean;
  log(message: string): void;
}

export interface DenseMiningResult {
  summary: Summary;
  /** What each filter removed, summed over questions. */
  counts: FilterCounts;
  /** Dense scores of the positives, the kept negatives and the answer-bearing hits removed. */
  scores: ScoreHistogramJson;
  /** The search that served the queries. */
  searchBackend: string;
  /** An approximate index's recall@depth against exact search (a sample of the questions). */
  recall?: RecallReport;
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
  const inRange = (position: number) => !opts.range || (position >= opts.range.start && position < opts.range.end);
  const batch = opts.queryBatch ?? 256;

  // Pass 1: the questions of the mineable records, and the gold positives of those in range.
  // `first`..`last`: the mineable questions (numbered over the whole file) this call mines.
  const questions: string[] = [];
  const positiveIds: string[][] = [];
  const bad = new BadRecords(opts.skipBad, summary);
  let position = 0;
  let first = -1;
  let last = -1;
  // A unit reads the whole file but counts only its own bad records: merged counts add up to a whole run's.
  const range = opts.range;
  const onBad = unitOnBad(range, () => position, bad.onBad);
  for await (const { record, where } of readDprRecords(opts.examples, { onBad })) {
    const mine = inRange(position++);
    if (mine) summary.read++;
    if (mine ? !admitForMining(record, where, summary) : skipReason(record)) continue;
    if (mine) {
      if (first < 0) first = questions.length;
      last = questions.length;
    }
    questions.push(record.question);
    positiveIds.push(mine ? record.positive_ctxs.map((c) => c.passage_id) : []);
  }
  // Whole query batches around [first, last]: the batches a whole run searches these questions in.
  const from = first < 0 ? 0 : Math.floor(first / batch) * batch;
  const to = first < 0 ? 0 : Math.min(questions.length, (Math.floor(last / batch) + 1) * batch);

  const margins = opts.maxScoreRatio !== undefined || opts.maxScoreMargin !== undefined;
  // The positives' vectors: scored for the margin and for the summary's score histogram.
  const gold = new Set(positiveIds.flat());
  const manifest = await openEmbeddings(opts.embeddings, { corpus: opts.corpus, model: opts.embeddingsModel });
  const queryVectors = await encodeQuestions(questions.slice(from, to), opts.queryEncoder, manifest.dim, batch);
  // An approximate index's recall: sampled over all the file's questions, measured on this call's own.
  const recallScope = { total: questions.length, offset: from, start: first < 0 ? 0 : first, end: first < 0 ? 0 : last + 1 };
  const found = await searchEmbeddings(opts.embeddings, queryVectors, opts.depth, { index: opts.index, capture: gold, log: opts.log, recallScope });
  const { hits, rowIds, captured } = found;
  opts.log(`mine dense: ${found.size} passages in ${found.shards} shard(s) searched with ${found.description}`);
  const depth = hits.k;

  const wanted = new Set<string>();
  for (let i = first < 0 ? 0 : (first - from) * depth; i < (last + 1 - from) * depth; i++) if (hits.ids[i] >= 0) wanted.add(rowIds.get(hits.ids[i])!);
  // The positives too, where the corpus has them: each is checked against the corpus's passage of its id.
  const passages = await fetchPassages(opts.corpus, wanted, opts.corpusColumns, gold);

  // Pass 2: filter, sample and write, record by record.
  const dim = opts.queryEncoder.dim;
  const counts = emptyCounts();
  const histogram = new ScoreHistogram();
  const writer = await openRecordWriter(opts.out);
  const progress = new Progress('mine dense', { total: first < 0 ? 0 : last + 1 - first, unit: 'questions' });
  let g = 0;
  position = -1;
  let short = 0;
  let noGoldVector = 0;
  try {
    // The same records as pass 1: its bad ones were counted there.
    for await (const { record, where } of readDprRecords(opts.examples, { onBad: bad.onBad && (() => {}) })) {
      position++;
      if (skipReason(record)) continue;
      const mine = inRange(position);
      const q = g++ - from;
      if (!mine) {
        if (opts.range && position >= opts.range.end) break;
        continue;
      }
      checkPositivesAgainstCorpus(record, where, opts.examples, opts.corpus, (id) => passages.get(id));
      const ranked: Hit[] = [];
      for (let r = 0; r < depth; r++) {
        const row = hits.ids[q * depth + r];
        if (row < 0) break;
        ranked.push({ passage: passages.get(rowIds.get(row)!)!, score: hits.scores[q * depth + r], rank: r });
      }
      // Every positive with an embedding is scored: the margin is to the lowest of them.
      const query = queryVectors.subarray(q * dim, (q + 1) * dim);
      const positiveScores = positiveIds[q + from].flatMap((id) => (captured.has(id) ? [dot(query, captured.get(id)!)] : []));
      let maxScore: number | undefined;
      if (margins) {
        maxScore = marginCeiling(positiveScores, opts);
        if (positiveScores.length === 0) noGoldVector++;
      }
      const { negatives, counts: one, answerScores } = selectNegatives(ranked, {
        matcher: new AnswerMatcher(record.answers, opts.match),
        checkTitle: opts.checkTitle,
        positiveIds: new Set(record.positive_ctxs.map((c) => c.passage_id)),
        positiveTexts: new Set(record.positive_ctxs.map((c) => normalizeForDedup(c.text))),
        count: opts.negatives,
        strategy: opts.strategy,
        skipTop: opts.skipTop,
        maxScore,
        rng: seededRandom(deriveSeed(opts.seed, 'mine.dense', samplingKey(record, position))),
      });
      addCounts(counts, one);
      histogram.addQuestion({ positive: positiveScores, negative: negatives.map((h) => h.score), answer: answerScores });
      if (negatives.length < opts.negatives) short++;
      const dense: Ctx[] = negatives.map((h) => ({ title: h.passage.title, text: h.passage.text, score: h.score, passage_id: h.passage.passage_id }));
      const hard = opts.keepExisting ? mergeNegatives(record.hard_negative_ctxs, dense) : dense;
      await writer.write({ ...record, hard_negative_ctxs: hard });
      summary.converted++;
      progress.tick();
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
  // A unit's share of the recall is not a recall: the merge of the units counts the run's (countRecall).
  if (found.recall && !opts.range) countRecall(summary, found.recall);
  const scores = histogram.toJSON();
  // No paths (the inputs are in <out>.summary.json): the same records give the same bytes in any workdir.
  await writeFileAtomic(`${opts.out}.mining.json`, JSON.stringify({ miner: 'mine dense', filters: counts, short, scores }, null, 1) + '\n');
  return { summary, counts, scores, searchBackend: found.description, recall: found.recall };
}

/** What the approximate index loses, in the summary next to what the filters removed. */
export function countRecall(summary: Summary, recall: RecallReport): void {
  summary.count(`index recall@${recall.k} vs exact (per 10,000, on ${recall.queries} sampled questions)`, Math.round(recall.recall * 10_000));
}

// Existing (e.g. BM25) negatives first, then dense ones not already there.
function mergeNegatives(existing: readonly Ctx[], dense: readonly Ctx[]): Ctx[] {
  const ids = new Set(existing.map((c) => c.passage_id));
  return [...existing, ...dense.filter((c) => !ids.has(c.passage_id))];
}
