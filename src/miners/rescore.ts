/**
 * Cross-encoder denoising of mined hard negatives (RocketQA's step): a cross-encoder scores every
 * (question, hard negative) pair, and negatives it judges relevant — likely unlabeled positives —
 * are dropped: those whose probability of relevance is above `threshold`, and/or each record's
 * top `dropTop` fraction by score (floor(F · n) of its n negatives). The kept negatives stay in
 * their order, untouched; positives and other fields are copied as they are.
 *
 * Input: DPR records (JSON array, JSONL, Parquet) as the miners write them. Output: the same
 * records with `hard_negative_ctxs` filtered. Records with an empty question are skipped with a
 * counted reason (no pair to score); records without hard negatives are written unchanged and counted.
 * Options: threshold (a probability: sigmoid of the cross-encoder's score, see
 * trainer/cross-encoder.ts), dropTop (a fraction in [0, 1)), either or both.
 *
 * Example: dprep mine rescore --cross-encoder models/ce --examples train.densehn.json \
 *            --out train.denoised.json --threshold 0.9
 */
import { openRecordWriter, readDprRecords } from '../io/records.ts';
import type { Ctx } from '../types.ts';
import { UsageError } from '../util/errors.ts';
import { Progress } from '../util/progress.ts';
import { Summary } from '../util/summary.ts';
import { BadRecords } from '../util/bad-records.ts';

/** What scores the pairs: a cross-encoder (trainer/cross-encoder.ts), opened by the caller. */
export interface PairScorer {
  /** Log-odds of relevance per pair (probability = sigmoid), in input order. */
  score(pairs: readonly { question: string; title: string; text: string }[]): Promise<Float64Array>;
}

export interface RescoreOptions {
  examples: string;
  out: string;
  scorer: PairScorer;
  /** Drop negatives whose probability of relevance (sigmoid of the score) is above this. */
  threshold?: number;
  /** Drop the top fraction of each record's negatives by score: floor(dropTop · n). */
  dropTop?: number;
  /** Leave out bad records, counted by reason in the summary, instead of stopping (--skip-bad). */
  skipBad?: boolean;
  log?: (message: string) => void;
}

export interface RescoreCounts {
  records: number;
  scored: number;
  kept: number;
  dropped: number;
  droppedThreshold: number;
  droppedTopFraction: number;
}

/** Why each negative goes ('threshold', 'top' or undefined: kept), given its scores; threshold first. */
export function rescoreDecisions(scores: ArrayLike<number>, o: Pick<RescoreOptions, 'threshold' | 'dropTop'>): ('threshold' | 'top' | undefined)[] {
  const n = scores.length;
  const why: ('threshold' | 'top' | undefined)[] = Array.from({ length: n }, (_, i) => (o.threshold !== undefined && 1 / (1 + Math.exp(-scores[i])) > o.threshold ? 'threshold' : undefined));
  if (o.dropTop !== undefined) {
    // Highest scores first, ties by position: the same negatives go whatever the sort.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
    for (const i of order.slice(0, Math.floor(o.dropTop * n))) why[i] ??= 'top';
  }
  return why;
}

/**
 * Rescores and filters the hard negatives of every record of `opts.examples` into `opts.out`.
 * @example
 * const { summary, counts } = await rescoreNegatives({ examples: 'train.json', out: 'clean.json',
 *   scorer: await loadCrossEncoder('models/ce'), threshold: 0.9 });
 */
export async function rescoreNegatives(opts: RescoreOptions): Promise<{ summary: Summary; counts: RescoreCounts }> {
  if (opts.threshold === undefined && opts.dropTop === undefined) throw new UsageError('mine rescore: give --threshold P, --drop-top F or both (nothing would be dropped)');
  const summary = new Summary('mine.rescore', [opts.examples]);
  const counts: RescoreCounts = { records: 0, scored: 0, kept: 0, dropped: 0, droppedThreshold: 0, droppedTopFraction: 0 };
  let withoutNegatives = 0;
  const writer = await openRecordWriter(opts.out);
  const progress = new Progress('mine rescore', { unit: 'records' });
  try {
    const bad = new BadRecords(opts.skipBad, summary);
    for await (const { record, where } of readDprRecords(opts.examples, { onBad: bad.onBad })) {
      summary.read++;
      if (record.question.trim() === '') {
        summary.skip('empty question', where);
        continue;
      }
      const negatives = record.hard_negative_ctxs;
      if (negatives.length === 0) withoutNegatives++;
      const scores = await opts.scorer.score(negatives.map((c) => ({ question: record.question, title: c.title, text: c.text })));
      const why = rescoreDecisions(scores, opts);
      const kept: Ctx[] = negatives.filter((_, i) => why[i] === undefined);
      counts.scored += negatives.length;
      counts.kept += kept.length;
      counts.droppedThreshold += why.filter((w) => w === 'threshold').length;
      counts.droppedTopFraction += why.filter((w) => w === 'top').length;
      await writer.write({ ...record, hard_negative_ctxs: kept });
      summary.converted++;
      counts.records++;
      progress.tick(1, `${counts.scored} pairs`);
    }
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  progress.finish();
  counts.dropped = counts.droppedThreshold + counts.droppedTopFraction;
  summary.count('negatives scored', counts.scored);
  summary.count('negatives kept', counts.kept);
  summary.count('negatives dropped', counts.dropped);
  if (opts.threshold !== undefined) summary.count(`negatives dropped: probability above ${opts.threshold}`, counts.droppedThreshold);
  if (opts.dropTop !== undefined) summary.count(`negatives dropped: in the top ${opts.dropTop} of their record`, counts.droppedTopFraction);
  summary.count('records without hard negatives (written unchanged)', withoutNegatives);
  return { summary, counts };
}
