/**
 * The options BM25 and dense mining share, declared once: the CLI flags and YAML keys of
 * `mine bm25` and `mine dense` (`minerOptions`) and the library settings they fill
 * (`MinerSettings`, same names).
 */
import { seedOption } from '../options.ts';
import { MATCH_MODES, type MatchMode } from '../text/answer.ts';
import { STRATEGIES, type SamplingStrategy } from './filter.ts';
export type { ScoreMargins } from './filter.ts';

/** Settings every miner takes. */
export interface MinerSettings {
  /** Hits retrieved per question before filtering. */
  depth: number;
  /** Rank window start: hits ranked 0..skipTop-1 are never negatives (likely unlabeled positives); default 0. */
  skipTop?: number;
  /** Negatives kept per question. */
  negatives: number;
  strategy: SamplingStrategy;
  /** Seeds the `random` strategy (one stream per record). */
  seed: number;
  /** Answer matching: DPR string (token) match or regex. */
  match: MatchMode;
  /** Also reject a hit whose title contains an answer. */
  checkTitle: boolean;
}

/**
 * The shared option block; `depth` and `skipTop` are the defaults that differ (BM25 100 and 0, dense 200 and 3).
 * @example options: { examples: {...}, ...minerOptions(100, 0), threads: {...} }
 */
export function minerOptions<const D extends number, const S extends number>(depth: D, skipTop: S) {
  return {
    depth: { type: 'integer', default: depth, min: 1, help: 'hits retrieved per question before filtering' },
    skipTop: { type: 'integer', default: skipTop, min: 0, help: 'never take the top r ranks (likely false negatives); the window is ranks r..depth-1' },
    negatives: { type: 'integer', default: 30, min: 0, help: 'hard negatives kept per question' },
    strategy: { type: 'string', choices: STRATEGIES, default: 'top', help: 'top: best-ranked survivors; random: seeded sample of the survivors within the window (one stream per record, keyed by its id, else its position in the whole examples file: any split into units gives the same sample)' },
    seed: seedOption(13, 'the --strategy random sampling'),
    match: { type: 'string', choices: MATCH_MODES, default: 'string', help: 'answer matching: DPR string (token) match or regex' },
    checkTitle: { type: 'boolean', help: 'also reject a hit whose title contains an answer' },
  } as const;
}

/**
 * Score margins to the positives (filter.ts's marginCeiling), the same flags for `mine bm25` and
 * `mine dense`: each miner scores every positive of the question with its own scorer.
 * @example options: { ...minerOptions(100, 0), ...MARGIN_OPTIONS }
 */
export const MARGIN_OPTIONS = {
  maxScoreRatio: { type: 'number', min: 0, help: 'drop hits scoring above pos − (1 − r)·|pos|, pos the lowest score of the positives (any sign)' },
  maxScoreMargin: { type: 'number', min: 0, help: 'drop hits scoring above pos − m, pos the lowest score of the positives' },
} as const;

/** The settings from parsed options (the seed: --seed, else the pipeline's step seed, else 13; see seedOption). */
export function minerSettings(o: MinerSettings): MinerSettings {
  return { depth: o.depth, skipTop: o.skipTop, negatives: o.negatives, strategy: o.strategy, seed: o.seed, match: o.match, checkTitle: o.checkTitle };
}
