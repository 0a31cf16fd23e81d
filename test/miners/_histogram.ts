/** Checks a mining summary's score histogram against raw scores, binning them independently. */
import assert from 'node:assert/strict';
import type { ScoreHistogramJson, ScoreSeries } from '../../src/util/score-histogram.ts';

/**
 * `scores` lists a series' raw scores; a series left out is not checked (its totals are the caller's).
 * The width must be the narrowest power of two that spans every score in `maxBins` bins.
 */
export function assertHistogramOf(h: ScoreHistogramJson, scores: Partial<Record<ScoreSeries, readonly number[]>>, maxBins = 40): void {
  assert.ok(Number.isInteger(Math.log2(h.width)), `width ${h.width} is a power of two`);
  const n = h.counts.negative.length;
  assert.ok(n <= maxBins, `${n} bins`);
  for (const [series, list] of Object.entries(scores) as [ScoreSeries, number[]][]) {
    const expected = new Array<number>(n).fill(0);
    for (const s of list) {
      const bin = Math.floor((s - h.start) / h.width);
      assert.ok(bin >= 0 && bin < n, `${series} score ${s} outside [${h.start}, ${h.start + n * h.width})`);
      expected[bin]++;
    }
    assert.deepEqual(h.counts[series], expected, `${series} bins`);
    assert.equal(h.totals[series], list.length, `${series} total`);
  }
  // The width check needs every binned score; with a series left out (or counted only) it is skipped.
  const all = Object.values(scores).flat();
  const complete = Object.values(h.totals).reduce((a, b) => a + b, 0) === all.length;
  if (complete && all.length > 1 && h.width > 2 ** -20) {
    const narrower = h.width / 2;
    const span = Math.floor(Math.max(...all) / narrower) - Math.floor(Math.min(...all) / narrower) + 1;
    assert.ok(span > maxBins, `half the width (${narrower}) would still fit: ${span} bins`);
  }
}
