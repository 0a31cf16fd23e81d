/**
 * Turning a retriever's ranked hits into hard negatives, the same way for BM25 and dense mining:
 * drop positives (by id and by normalized text), answer-bearing passages (DPR has_answer),
 * the top `skipTop` ranks and hits scoring too close to the positive; then sample `count`
 * negatives by strategy. Every removal is counted, so users see how many false negatives
 * the filter caught.
 */
import type { DprRecord, Passage } from '../types.ts';
import type { AnswerMatcher } from '../text/answer.ts';
import { shuffleInPlace } from '../util/random.ts';
import { isEmptyAnswer } from '../text/answer.ts';
import { normalizeForDedup } from '../text/same-passage.ts';
import type { Summary } from '../util/summary.ts';

/**
 * Why a record's answers cannot drive the answer filter, or undefined when they can.
 * `answers: []` is fine (MS MARCO has no answer strings: negatives are then filtered by positive
 * id and text only); answers that are all empty are bad input, since an empty answer would
 * match every passage under DPR's rule.
 */
export function unusableAnswers(answers: readonly string[]): string | undefined {
  if (answers.length > 0 && answers.every(isEmptyAnswer)) return 'no usable answer (every answer is empty)';
  return undefined;
}

/** Counted for records mined without answer strings (filtered by positives only). */
export const NO_ANSWERS_NOTE = 'mined without answers: positives excluded by id and text only';

/**
 * Why a record cannot be mined, or undefined when it can; the rules are checked in this order,
 * so BM25 and dense mining count a record with several problems under the same reason.
 */
export function skipReason(record: DprRecord): string | undefined {
  if (record.question.trim() === '') return 'empty question';
  const answers = unusableAnswers(record.answers);
  if (answers) return answers;
  if (record.positive_ctxs.length === 0) return 'no positive_ctxs';
  return undefined;
}

/**
 * The record's non-empty answers when it can be mined (counting NO_ANSWERS_NOTE when there are
 * none); otherwise undefined, with the skip counted in `summary` under its reason.
 * @example const answers = admitForMining(record, where, summary); if (!answers) continue;
 */
export function admitForMining(record: DprRecord, where: string, summary: Summary): string[] | undefined {
  const reason = skipReason(record);
  if (reason) {
    summary.skip(reason, where);
    return undefined;
  }
  const answers = record.answers.filter((a) => !isEmptyAnswer(a));
  if (answers.length === 0) summary.count(NO_ANSWERS_NOTE);
  return answers;
}

/** One retrieved passage; `rank` is 0-based in the retriever's order. */
export interface Hit {
  passage: Passage;
  score: number;
  rank: number;
}

/** How negatives are taken from the filtered hits: the best-ranked, or a seeded sample. */
export const STRATEGIES = ['top', 'random'] as const;

/**
 * The key of a record's `random` sampling stream: its id when it has one (kept by any split of the
 * examples into files), else its 0-based position in the whole examples file (a work unit reads the
 * file and keeps the global position). Never a position within a batch, shard or unit.
 * @example deriveSeed(seed, 'mine.bm25', samplingKey(record, 41)) // 'id:5733be28' or '#41'
 */
export function samplingKey(record: DprRecord, position: number): string {
  return typeof record.id === 'string' && record.id !== '' ? `id:${record.id}` : `#${position}`;
}
export type SamplingStrategy = (typeof STRATEGIES)[number];

export interface NegativeSelection {
  matcher: AnswerMatcher;
  /** Also reject passages whose title contains the answer. */
  checkTitle: boolean;
  positiveIds: ReadonlySet<string>;
  /** `normalizeForDedup(text)` of each positive: catches duplicated passages under other ids. */
  positiveTexts: ReadonlySet<string>;
  /** Negatives wanted per question. */
  count: number;
  strategy: SamplingStrategy;
  /** Rank window start: hits ranked above it are dropped (dense mining's guard against false negatives). */
  skipTop?: number;
  /** Hits scoring above this are dropped (see marginCeiling). */
  maxScore?: number;
  /** Generator for the `random` strategy, derived from (seed, question index). */
  rng?: () => number;
}

/** What each filter removed for one question (summed over questions for the report). */
export interface FilterCounts {
  hits: number;
  positive: number;
  answer: number;
  skipTop: number;
  margin: number;
  duplicate: number;
  kept: number;
}

export const emptyCounts = (): FilterCounts => ({ hits: 0, positive: 0, answer: 0, skipTop: 0, margin: 0, duplicate: 0, kept: 0 });

export function addCounts(total: FilterCounts, one: FilterCounts): void {
  for (const k of Object.keys(total) as (keyof FilterCounts)[]) total[k] += one[k];
}

/** Score margins to the positives: relative (`ratio`) and absolute (`margin`), either or both. */
export interface ScoreMargins {
  maxScoreRatio?: number;
  maxScoreMargin?: number;
}

/**
 * The highest score a negative may have, or undefined when no margin applies (none set, or no
 * positive scored). pos = the LOWEST positive score: a hit scoring above any positive is a likely
 * false negative, so the strictest bound protects best. Relative: pos − (1 − ratio)·|pos|, correct
 * for any sign (ratio × pos would put the bound above a negative positive score: 0.95 × −0.5 =
 * −0.475 > −0.5; sentence-transformers fixed the same bug with the absolute value). Absolute:
 * pos − margin. With both, the stricter (lower) bound.
 * @example marginCeiling([-0.5], { maxScoreRatio: 0.95 }) // -0.525: a hit at -0.49 is dropped
 */
export function marginCeiling(positiveScores: readonly number[], m: ScoreMargins): number | undefined {
  if (positiveScores.length === 0 || (m.maxScoreRatio === undefined && m.maxScoreMargin === undefined)) return undefined;
  const pos = Math.min(...positiveScores);
  let ceiling = Infinity;
  if (m.maxScoreRatio !== undefined) ceiling = Math.min(ceiling, pos - (1 - m.maxScoreRatio) * Math.abs(pos));
  if (m.maxScoreMargin !== undefined) ceiling = Math.min(ceiling, pos - m.maxScoreMargin);
  return ceiling;
}

// The definition lives in text/ so the trainer's in-batch mask uses the same one.
export { normalizeForDedup } from '../text/same-passage.ts';

/**
 * Filters ranked hits and samples negatives; `answerScores` are the scores of the answer-bearing
 * hits it removed (the false negatives it caught), for the mining summary's score histogram.
 * @example
 * const { negatives, counts } = selectNegatives(hits, { matcher, checkTitle: false,
 *   positiveIds: new Set(['12']), positiveTexts: new Set(), count: 30, strategy: 'top' });
 */
export function selectNegatives(hits: readonly Hit[], sel: NegativeSelection): { negatives: Hit[]; counts: FilterCounts; answerScores: number[] } {
  const counts = emptyCounts();
  const kept: Hit[] = [];
  const answerScores: number[] = [];
  const seenTexts = new Set<string>();
  for (const hit of hits) {
    counts.hits++;
    const { passage } = hit;
    const norm = normalizeForDedup(passage.text);
    if (sel.positiveIds.has(passage.passage_id) || sel.positiveTexts.has(norm)) counts.positive++;
    else if (sel.matcher.matches(passage.text) || (sel.checkTitle && sel.matcher.matches(passage.title))) {
      counts.answer++;
      answerScores.push(hit.score);
    }
    else if (sel.skipTop !== undefined && hit.rank < sel.skipTop) counts.skipTop++;
    else if (sel.maxScore !== undefined && hit.score > sel.maxScore) counts.margin++;
    else if (seenTexts.has(norm)) counts.duplicate++;
    else {
      seenTexts.add(norm);
      kept.push(hit);
    }
  }
  let negatives: Hit[];
  if (sel.strategy === 'top' || kept.length <= sel.count) negatives = kept.slice(0, sel.count);
  else {
    if (!sel.rng) throw new Error('selectNegatives: the random strategy needs a seeded rng');
    // Sample without replacement, then restore rank order so outputs read best-first.
    negatives = shuffleInPlace([...kept], sel.rng).slice(0, sel.count).sort((a, b) => a.rank - b.rank);
  }
  counts.kept = negatives.length;
  return { negatives, counts, answerScores };
}
