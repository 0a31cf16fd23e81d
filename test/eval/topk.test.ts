import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerMrr, firstAnswerRank, topKAccuracy } from '../../src/eval/topk.ts';
import { renderReportMarkdown, reportJson, type ReportRow } from '../../src/eval/report.ts';

const p = (text: string, title = '') => ({ passage_id: text.slice(0, 8), title, text });

test('first answer rank uses DPR has_answer (whole tokens, punctuation kept)', () => {
  const table: [string[], string[], number][] = [
    [['Denver Broncos'], ['the broncos', 'The Denver Broncos won'], 1],
    [['art'], ['a party', 'the art of war'], 1],
    [['U.S.'], ['the US army', 'in the U.S. army'], 1],
    [['nothing'], ['a', 'b'], -1],
    [['café'], ['un café noir'], 0],
  ];
  for (const [answers, texts, want] of table) assert.equal(firstAnswerRank(answers, texts.map((t) => p(t))), want, `${answers} in ${texts}`);
  assert.equal(firstAnswerRank(['Paris'], [p('capital', 'Paris')], 'string', true), 0, 'title checked on request');
});

test('top-k accuracy counts questions with an answer in the top k', () => {
  assert.deepEqual(topKAccuracy([0, 3, -1, 19, 20], [1, 5, 20]), { 'top@1': 1 / 5, 'top@5': 2 / 5, 'top@20': 3 / 5 });
  assert.deepEqual(topKAccuracy([], [1]), { 'top@1': 0 });
});

test('report puts runs side by side; missing metrics show as – and null', () => {
  const rows: ReportRow[] = [
    { label: 'bm25', metrics: { 'mrr@10': 0.1874, 'recall@100': 0.6 }, queries: 10 },
    { label: 'stage2', metrics: { 'mrr@10': 0.3 } },
  ];
  assert.equal(
    renderReportMarkdown(rows),
    '| run | mrr@10 | recall@100 | queries |\n|---|---:|---:|---:|\n| bm25 | 0.1874 | 0.6000 | 10 |\n| stage2 | 0.3000 | – | – |\n',
  );
  assert.deepEqual(reportJson(rows).runs[1], { label: 'stage2', metrics: { 'mrr@10': 0.3, 'recall@100': null } });
});

test('answer MRR@k: the first answer-bearing rank reciprocal within the top k, 0 beyond it or when none', () => {
  assert.equal(answerMrr([0, 3, -1], 10), (1 + 1 / 4 + 0) / 3);
  assert.equal(answerMrr([0, 9, 10], 10), (1 + 1 / 10 + 0) / 3, 'rank 10 (0-based) is the 11th: outside mrr@10');
  assert.equal(answerMrr([], 10), 0);
});
