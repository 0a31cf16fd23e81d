import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScoreHistogram } from '../../src/util/score-histogram.ts';
import { assertHistogramOf } from './_histogram.ts';

test('hand-computed: 4 bins of width 0.5 hold negatives 0.25, 0.5, the positive 1.0 and an answer-bearing hit 1.5', () => {
  const h = new ScoreHistogram(4);
  h.addQuestion({ positive: [1.0], negative: [0.25, 0.5], answer: [1.5] });
  const j = h.toJSON();
  // Width 0.25 would need floor(1.5/0.25) - floor(0.25/0.25) + 1 = 6 bins; 0.5 needs 4.
  assert.equal(j.width, 0.5);
  assert.equal(j.start, 0);
  assert.deepEqual(j.counts, { negative: [1, 1, 0, 0], positive: [0, 0, 1, 0], answer: [0, 0, 0, 1] });
  assert.deepEqual(j.totals, { positive: 1, negative: 2, answer: 1 });
  assert.equal(j.negativesAbovePositive, 0);
});

const cases: { name: string; questions: { positive: number[]; negative: number[]; answer: number[] }[]; above: number }[] = [
  { name: 'negative dot products (dense scores)', questions: [{ positive: [-0.12], negative: [-0.5, -0.11, -0.9], answer: [-0.05] }], above: 1 },
  { name: 'BM25-sized scores over several questions', questions: [{ positive: [21.5, 18.0], negative: [19.2, 17.9, 12.0], answer: [25.1] }, { positive: [7.5], negative: [7.5, 3.25], answer: [] }], above: 2 },
  { name: 'one score only', questions: [{ positive: [3.3], negative: [], answer: [] }], above: 0 },
  { name: 'a wide range (1e-3 … 1e4)', questions: [{ positive: [1e4], negative: [1e-3, 0.5, 9999], answer: [] }], above: 0 },
];
for (const c of cases) {
  test(`bins match an independent binning, the narrowest power-of-two width, order-free: ${c.name}`, () => {
    const h = new ScoreHistogram();
    for (const q of c.questions) h.addQuestion(q);
    const j = h.toJSON();
    const flat = (k: 'positive' | 'negative' | 'answer') => c.questions.flatMap((q) => q[k]);
    assertHistogramOf(j, { positive: flat('positive'), negative: flat('negative'), answer: flat('answer') });
    assert.equal(j.negativesAbovePositive, c.above);
    // Reversed order: the same bins.
    const r = new ScoreHistogram();
    for (const q of [...c.questions].reverse()) r.addQuestion({ positive: [...q.positive].reverse(), negative: [...q.negative].reverse(), answer: q.answer });
    assert.deepEqual(r.toJSON(), j);
  });
}

test('merge: parts mined apart (work units) give the JSON of one histogram fed every score, however split', () => {
  const questions = cases.flatMap((c) => c.questions);
  const whole = new ScoreHistogram();
  for (const q of questions) whole.addQuestion(q);
  for (const cut of [0, 1, 2, questions.length]) {
    const parts = [questions.slice(0, cut), questions.slice(cut)].map((qs) => {
      const h = new ScoreHistogram();
      for (const q of qs) h.addQuestion(q);
      return h.toJSON();
    });
    assert.deepEqual(ScoreHistogram.merge(parts), whole.toJSON(), `cut at ${cut}`);
  }
  // Three parts, one of them with a single score (the narrowest width), and NaN counted.
  const a = new ScoreHistogram();
  a.addQuestion({ positive: [0.3], negative: [NaN], answer: [] });
  const b = new ScoreHistogram();
  b.addQuestion({ positive: [12], negative: [3, 13], answer: [9] });
  const c = new ScoreHistogram();
  c.addQuestion({ positive: [-4], negative: [-5], answer: [] });
  const all = new ScoreHistogram();
  for (const q of [{ positive: [0.3], negative: [NaN], answer: [] }, { positive: [12], negative: [3, 13], answer: [9] }, { positive: [-4], negative: [-5], answer: [] }]) all.addQuestion(q);
  assert.deepEqual(ScoreHistogram.merge([a.toJSON(), b.toJSON(), c.toJSON()]), all.toJSON());
  assert.deepEqual(ScoreHistogram.merge([]), new ScoreHistogram().toJSON());
});

test('NaN and Inf are counted, not binned; an empty histogram has no bins', () => {
  const h = new ScoreHistogram();
  assert.deepEqual(h.toJSON().counts.negative, []);
  h.addQuestion({ positive: [NaN], negative: [1, Infinity], answer: [] });
  const j = h.toJSON();
  assert.equal(j.nonFinite, 2);
  assert.deepEqual(j.totals, { positive: 0, negative: 1, answer: 0 });
  assert.equal(j.negativesAbovePositive, 0, 'no finite positive: nothing to compare with');
});

test('a huge score after small ones widens without overflow and ends', () => {
  const h = new ScoreHistogram(8);
  h.add('negative', 1e-6);
  h.add('negative', 1e300);
  const j = h.toJSON();
  assert.ok(j.counts.negative.length <= 8);
  assert.equal(j.totals.negative, 2);
});
