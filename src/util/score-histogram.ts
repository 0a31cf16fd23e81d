/**
 * A compact histogram of mining scores, kept in the mining summary (`<out>.mining.json`) so a
 * report can plot the kept hard negatives against the positives (and the answer-bearing hits the
 * filter removed): negatives that score like positives are where false negatives hide.
 *
 * Every series shares one bin width, a power of two, widened (neighbouring bins merged) until
 * all scores span at most `maxBins` bins. Floor division by a power of two is exact, so the
 * result depends only on the scores, not on their order or on how many threads mined them.
 */

/** The series a miner records, by what the score belongs to. */
export const SCORE_SERIES = ['positive', 'negative', 'answer'] as const;
export type ScoreSeries = (typeof SCORE_SERIES)[number];

/** What `ScoreHistogram.toJSON()` writes. Bin i covers [start + i·width, start + (i+1)·width). */
export interface ScoreHistogramJson {
  width: number;
  start: number;
  /** Counts per bin, one array per series, all of the same length. */
  counts: Record<ScoreSeries, number[]>;
  /** Scores per series (the sums of `counts`). */
  totals: Record<ScoreSeries, number>;
  /** Kept negatives scoring at or above their own question's lowest-scoring positive: likely false negatives. */
  negativesAbovePositive: number;
  /** NaN/Inf scores, counted here and not binned. */
  nonFinite: number;
}

const FIRST_WIDTH = 2 ** -20;

export class ScoreHistogram {
  private width = FIRST_WIDTH;
  /** Bin key (floor(score / width)) → counts per series, in SCORE_SERIES order. */
  private bins = new Map<number, number[]>();
  private minKey = Infinity;
  private maxKey = -Infinity;
  private negativesAbovePositive = 0;
  private nonFinite = 0;

  constructor(private readonly maxBins = 40) {
    if (!(maxBins >= 2)) throw new Error(`ScoreHistogram: maxBins must be at least 2 (got ${maxBins})`);
  }

  add(series: ScoreSeries, score: number): void {
    if (!Number.isFinite(score)) {
      this.nonFinite++;
      return;
    }
    // A score too large for the current width (key overflow) widens first.
    while (!Number.isFinite(score / this.width)) this.widen();
    const key = Math.floor(score / this.width);
    this.minKey = Math.min(this.minKey, key);
    this.maxKey = Math.max(this.maxKey, key);
    this.countAt(this.bins, key)[SCORE_SERIES.indexOf(series)]++;
    while (this.maxKey - this.minKey + 1 > this.maxBins) this.widen();
  }

  /**
   * One question's scores: its positives', its kept negatives' and its answer-bearing hits'.
   * @example hist.addQuestion({ positive: [12.1], negative: [11.9, 9.4], answer: [13.0] });
   */
  addQuestion(scores: { positive: readonly number[]; negative: readonly number[]; answer: readonly number[] }): void {
    for (const series of SCORE_SERIES) for (const s of scores[series]) this.add(series, s);
    const finitePositives = scores.positive.filter(Number.isFinite);
    if (finitePositives.length === 0) return;
    const lowest = Math.min(...finitePositives);
    for (const s of scores.negative) if (s >= lowest) this.negativesAbovePositive++;
  }

  /**
   * The histogram of several parts' scores together (records mined apart, as work units): the same
   * JSON as one histogram fed every score, since power-of-two bins of the parts nest in the wider ones.
   * @example ScoreHistogram.merge([unit0.scores, unit1.scores])
   */
  static merge(parts: readonly ScoreHistogramJson[], maxBins = 40): ScoreHistogramJson {
    const h = new ScoreHistogram(maxBins);
    for (const p of parts) {
      h.negativesAbovePositive += p.negativesAbovePositive;
      h.nonFinite += p.nonFinite;
    }
    const binned = parts.filter((p) => p.counts.negative.length > 0);
    h.width = Math.max(FIRST_WIDTH, ...binned.map((p) => p.width));
    for (const p of binned) {
      const ratio = h.width / p.width;
      const first = Math.round(p.start / p.width);
      for (let i = 0; i < p.counts.negative.length; i++) {
        const perSeries = SCORE_SERIES.map((s) => p.counts[s][i]);
        if (perSeries.every((c) => c === 0)) continue;
        const key = Math.floor((first + i) / ratio);
        h.minKey = Math.min(h.minKey, key);
        h.maxKey = Math.max(h.maxKey, key);
        const into = h.countAt(h.bins, key);
        perSeries.forEach((c, k) => (into[k] += c));
      }
    }
    while (h.maxKey - h.minKey + 1 > maxBins) h.widen();
    return h.toJSON();
  }

  toJSON(): ScoreHistogramJson {
    const empty = this.bins.size === 0;
    const n = empty ? 0 : this.maxKey - this.minKey + 1;
    const counts = Object.fromEntries(SCORE_SERIES.map((s) => [s, new Array<number>(n).fill(0)])) as Record<ScoreSeries, number[]>;
    const totals = Object.fromEntries(SCORE_SERIES.map((s) => [s, 0])) as Record<ScoreSeries, number>;
    for (const [key, perSeries] of this.bins) {
      SCORE_SERIES.forEach((s, i) => {
        counts[s][key - this.minKey] += perSeries[i];
        totals[s] += perSeries[i];
      });
    }
    return {
      width: this.width,
      start: empty ? 0 : this.minKey * this.width,
      counts,
      totals,
      negativesAbovePositive: this.negativesAbovePositive,
      nonFinite: this.nonFinite,
    };
  }

  private countAt(bins: Map<number, number[]>, key: number): number[] {
    let c = bins.get(key);
    if (!c) bins.set(key, (c = SCORE_SERIES.map(() => 0)));
    return c;
  }

  /** Doubles the width: bin k goes to floor(k / 2), which is where its scores fall at the new width. */
  private widen(): void {
    const merged = new Map<number, number[]>();
    for (const [key, perSeries] of this.bins) {
      const into = this.countAt(merged, Math.floor(key / 2));
      perSeries.forEach((c, i) => (into[i] += c));
    }
    this.bins = merged;
    this.width *= 2;
    this.minKey = Math.floor(this.minKey / 2);
    this.maxKey = Math.floor(this.maxKey / 2);
  }
}
