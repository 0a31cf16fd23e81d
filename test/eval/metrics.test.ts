import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateRun, parseMetrics, queryMetric } from '../../src/eval/metrics.ts';
import type { Qrels, Run } from '../../src/eval/trec.ts';
import { compareRunEntries } from '../../src/eval/trec.ts';

const qrels: Qrels = new Map([
  ['q1', new Map([['d1', 1], ['d2', 2], ['d3', 0], ['d4', 1]])],
  ['q2', new Map([['d9', 1]])],
  ['q4', new Map([['d1', 1]])],
]);
const run: Run = new Map([
  // q1 ranked rels: [0, 1, 0, 2]; d4 (relevant) is never retrieved.
  ['q1', [{ docid: 'd3', score: 0.9 }, { docid: 'd1', score: 0.8 }, { docid: 'd5', score: 0.7 }, { docid: 'd2', score: 0.6 }]],
  ['q2', [{ docid: 'd9', score: 0.5 }]],
  ['q3', [{ docid: 'd1', score: 0.5 }]],
]);

// Hand-computed for q1 (num_rel = 3: d1, d2, d4).
const log2 = Math.log2;
const q1Expected: [string, number][] = [
  ['mrr', 1 / 2],
  ['mrr@1', 0],
  ['p@2', 1 / 2],
  ['p@10', 2 / 10],
  ['recall@2', 1 / 3],
  ['recall@4', 2 / 3],
  ['map', (1 / 2 + 2 / 4) / 3],
  ['map@2', 1 / 2 / 3],
  ['ndcg@2', 1 / log2(3) / (2 + 1 / log2(3))],
  ['ndcg@4', (1 / log2(3) + 2 / log2(5)) / (2 + 1 / log2(3) + 1 / log2(4))],
  ['ndcg', (1 / log2(3) + 2 / log2(5)) / (2 + 1 / log2(3) + 1 / log2(4))],
];

test('per-query metrics match hand-computed values', () => {
  const rels = [0, 1, 0, 2];
  for (const [name, want] of q1Expected) {
    const [spec] = parseMetrics([name]);
    assert.ok(Math.abs(queryMetric(spec, rels, qrels.get('q1')!) - want) < 1e-12, `${name}: ${queryMetric(spec, rels, qrels.get('q1')!)} vs ${want}`);
  }
});

test('averages over queries in both run and qrels, like trec_eval', () => {
  const res = evaluateRun(run, qrels, parseMetrics(['mrr@10', 'map', 'recall@100']));
  assert.equal(res.queries, 2);
  assert.equal(res.unjudgedQueries, 1);
  assert.ok(Math.abs(res.metrics['mrr@10'] - (0.5 + 1) / 2) < 1e-12);
  assert.ok(Math.abs(res.metrics.map - (1 / 3 + 1) / 2) < 1e-12);
  assert.ok(Math.abs(res.metrics['recall@100'] - (2 / 3 + 1) / 2) < 1e-12);
});

test('complete mode counts qrels queries missing from the run as 0 (trec_eval -c)', () => {
  const res = evaluateRun(run, qrels, parseMetrics(['mrr@10']), { complete: true });
  assert.equal(res.queries, 3);
  assert.ok(Math.abs(res.metrics['mrr@10'] - 1.5 / 3) < 1e-12);
});

test('a query whose qrels hold no relevant document scores 0, not NaN', () => {
  const only0: Qrels = new Map([['q', new Map([['a', 0]])]]);
  const res = evaluateRun(new Map([['q', [{ docid: 'a', score: 1 }]]]), only0, parseMetrics(['mrr@10', 'map', 'recall@10', 'ndcg@10']));
  assert.deepEqual(res.metrics, { 'mrr@10': 0, map: 0, 'recall@10': 0, 'ndcg@10': 0 });
});

test('metric names parse to canonical keys; bad names are usage errors', () => {
  const table: [string, string][] = [['MRR@10', 'mrr@10'], ['recall@100', 'recall@100'], ['ndcg@10', 'ndcg@10'], ['map', 'map'], ['recip_rank', 'mrr'], ['P@5', 'p@5']];
  for (const [raw, name] of table) assert.equal(parseMetrics([raw])[0].name, name);
  for (const bad of ['mrr@0', 'f1@10', 'p', 'ndcg@x']) assert.throws(() => parseMetrics([bad]), /metric/);
});

test("run order is trec_eval's: score descending, ties by docid descending (byte order)", () => {
  const entries = [{ docid: 'd10', score: 1 }, { docid: 'd2', score: 1 }, { docid: 'd1', score: 2 }];
  assert.deepEqual(entries.sort(compareRunEntries).map((e) => e.docid), ['d1', 'd2', 'd10']);
});
