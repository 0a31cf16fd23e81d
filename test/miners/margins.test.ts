import { test } from 'node:test';
import assert from 'node:assert/strict';
import { marginCeiling, selectNegatives, type Hit } from '../../src/miners/filter.ts';
import { AnswerMatcher } from '../../src/text/answer.ts';

// [positive scores, margins, expected ceiling]
const CASES: [number[], { maxScoreRatio?: number; maxScoreMargin?: number }, number | undefined][] = [
  [[0.5], { maxScoreRatio: 0.95 }, 0.475],
  [[-0.5], { maxScoreRatio: 0.95 }, -0.525], // the case: ratio × pos would give -0.475, above the positive
  [[0], { maxScoreRatio: 0.95 }, 0],
  [[20, 12], { maxScoreRatio: 0.9 }, 10.8], // the lowest positive
  [[-3, 2], { maxScoreRatio: 0.5 }, -4.5],
  [[0.5], { maxScoreMargin: 0.1 }, 0.4],
  [[-0.5, -0.2], { maxScoreMargin: 0.1 }, -0.6],
  [[10], { maxScoreRatio: 0.95, maxScoreMargin: 1 }, 9], // both: the stricter
  [[10], { maxScoreRatio: 0.8, maxScoreMargin: 1 }, 8],
  [[], { maxScoreRatio: 0.95 }, undefined],
  [[1], {}, undefined],
];

for (const [positives, margins, want] of CASES) {
  test(`margin ceiling: positives ${JSON.stringify(positives)}, ${JSON.stringify(margins)} → ${want}`, () => {
    const got = marginCeiling(positives, margins);
    if (want === undefined) assert.equal(got, undefined);
    else {
      assert.ok(Math.abs(got! - want) < 1e-12, `${got} vs ${want}`);
      // Whatever the sign, the ceiling is never above the lowest positive: no kept negative outscores a positive.
      assert.ok(got! <= Math.min(...positives));
    }
  });
}

test('selectNegatives drops a hit above the ceiling (a negative at -0.49 over a positive at -0.50), counted as margin', () => {
  const hit = (id: string, score: number, rank: number): Hit => ({ passage: { passage_id: id, title: '', text: `passage ${id}` }, score, rank });
  const hits = [hit('a', -0.49, 0), hit('b', -0.6, 1), hit('c', -0.7, 2)];
  const { negatives, counts } = selectNegatives(hits, {
    matcher: new AnswerMatcher(['zzz'], 'string'), checkTitle: false, positiveIds: new Set(['p']), positiveTexts: new Set(),
    count: 5, strategy: 'top', maxScore: marginCeiling([-0.5], { maxScoreRatio: 0.95 }),
  });
  assert.deepEqual(negatives.map((h) => h.passage.passage_id), ['b', 'c']);
  assert.equal(counts.margin, 1);
});
