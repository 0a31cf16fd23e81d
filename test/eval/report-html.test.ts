import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curveSeries, renderReportHtml, trainingSeries } from '../../src/eval/report-html.ts';
import { readMiningSummary, readTrainingLog, type TrainingLog } from '../../src/eval/report-inputs.ts';
import type { ReportRow } from '../../src/eval/report.ts';
import { ScoreHistogram } from '../../src/util/score-histogram.ts';
import { InputError } from '../../src/util/errors.ts';
import { CLI } from '../_paths.ts';

const dir = await mkdtemp(join(tmpdir(), 'dprep-report-html-'));
const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' } });

/** Labels of the series drawn in the chart `id` of a page (its `<svg id=…>` … `</svg>`). */
export function chartSeries(html: string, id: string): string[] {
  const svg = new RegExp(`<svg class="chart" id="${id}"[\\s\\S]*?</svg>`).exec(html);
  assert.ok(svg, `chart ${id} is in the page`);
  return [...svg[0].matchAll(/<g class="series" data-series="([^"]*)">/g)].map((m) => m[1]);
}

const runs: ReportRow[] = [
  { label: 'BM25', metrics: { 'top@1': 0.92, 'top@5': 0.98, 'top@20': 1, 'mrr@10': 0.5 }, queries: 116 },
  { label: 'stage 1', metrics: { 'top@1': 0.05, 'top@20': 0.71 }, queries: 116 },
  { label: 'qrels only', metrics: { 'recall@100': 0.8, 'recall@10': 0.4 } },
];

test('curveSeries / trainingSeries: the (k, value) and (step, value) points per run, in order; runs without the metric left out', () => {
  assert.deepEqual(curveSeries(runs, /^top@?(\d+)$/), [
    { label: 'BM25', points: [{ x: 1, y: 0.92 }, { x: 5, y: 0.98 }, { x: 20, y: 1 }] },
    { label: 'stage 1', points: [{ x: 1, y: 0.05 }, { x: 20, y: 0.71 }] },
  ]);
  assert.deepEqual(curveSeries(runs, /^recall@(\d+)$/), [{ label: 'qrels only', points: [{ x: 10, y: 0.4 }, { x: 100, y: 0.8 }] }]);
  const logs: TrainingLog[] = [
    { label: 'stage 1', file: 'a', rows: [{ step: 21, 'train.loss': 5.2, 'dev.avg_rank': 108 }, { step: 42, 'train.loss': 4.0 }] },
    { label: 'stage 2', file: 'b', rows: [{ step: 10 }] },
  ];
  assert.deepEqual(trainingSeries(logs, 'train.loss'), [{ label: 'stage 1', points: [{ x: 21, y: 5.2 }, { x: 42, y: 4.0 }] }]);
  assert.deepEqual(trainingSeries(logs, 'dev.avg_rank'), [{ label: 'stage 1', points: [{ x: 21, y: 108 }] }]);
});

test('the page: every chart with its series, the table, nothing fetched (no script, link, URL or font)', () => {
  const hist = new ScoreHistogram();
  hist.addQuestion({ positive: [14], negative: [9, 11, 15], answer: [13] });
  const html = renderReportHtml({
    runs,
    training: <TrainingLog[]>[
      { label: 'stage 1', file: 'models/stage1/metrics.jsonl', rows: [{ step: 21, 'train.loss': 5.2, 'dev.avg_rank': 108 }, { step: 42, 'train.loss': 4.0, 'dev.avg_rank': 105 }] },
      { label: 'stage 2', file: 'models/stage2/metrics.jsonl', rows: [{ step: 21, 'train.loss': 3.6, 'dev.avg_rank': 112 }] },
    ],
    mining: [{ label: 'BM25 negatives', file: 'x.mining.json', scoreKind: 'BM25', scores: hist.toJSON() }],
  });
  assert.match(html, /^<!doctype html>\n<html lang="en">/);
  assert.deepEqual(chartSeries(html, 'chart-topk'), ['BM25', 'stage 1']);
  assert.deepEqual(chartSeries(html, 'chart-recall'), ['qrels only']);
  assert.deepEqual(chartSeries(html, 'chart-train-loss'), ['stage 1', 'stage 2']);
  assert.deepEqual(chartSeries(html, 'chart-dev-avg_rank'), ['stage 1', 'stage 2']);
  assert.deepEqual(chartSeries(html, 'chart-mining-0'), ['kept hard negatives (3)', 'positives (1)', 'answer-bearing hits (removed) (1)']);
  // One of the three negatives (15) scores above its positive (14): 33.3%.
  assert.match(html, /at or above their own question’s positive: <strong>1<\/strong> \(33\.3%\)/);
  assert.match(html, /Not in this chart \(no such metric\): qrels only\./);
  assert.match(html, /<tr><th scope="row">BM25<\/th><td class="num"><strong>0\.9200<\/strong><\/td>/);
  for (const banned of [/<script/i, /<link/i, /https?:/i, /url\(/i, /@import/i, /@font-face/i, /<img/i, /<iframe/i]) assert.doesNotMatch(html, banned);
  assert.ok(Buffer.byteLength(html) < 60_000, `${Buffer.byteLength(html)} bytes`);
});

test('sections without data are left out; the same inputs give the same bytes', () => {
  const html = renderReportHtml({ runs: [{ label: 'BM25', metrics: { 'mrr@10': 0.3 } }] });
  assert.doesNotMatch(html, /<svg/);
  assert.doesNotMatch(html, /h-training|h-mining/);
  assert.match(html, /<table>/);
  assert.equal(renderReportHtml({ runs }), renderReportHtml({ runs }));
});

test('readTrainingLog / readMiningSummary: bad files are InputErrors naming file, line and field', async () => {
  const table: [string, string, RegExp][] = [
    ['bad-json.jsonl', '{"step":1,"train.loss":2}\n{"step":2,"train.lo', /bad-json\.jsonl, line 2: invalid JSON/],
    ['no-step.jsonl', '{"train.loss":2}\n', /no-step\.jsonl, line 1, field "step": expected the step number/],
    ['array.jsonl', '[1,2]\n', /array\.jsonl, line 1: expected a JSON object/],
    ['empty.jsonl', '', /empty\.jsonl: no metrics lines/],
  ];
  for (const [name, text, message] of table) {
    await writeFile(join(dir, name), text);
    await assert.rejects(readTrainingLog(join(dir, name), 'x'), (e: Error) => e instanceof InputError && message.test(e.message), name);
  }
  await assert.rejects(readTrainingLog(join(dir, 'missing.jsonl'), 'x'), (e: Error) => e instanceof InputError && /missing\.jsonl: not found: give a trainer's metrics\.jsonl or its run directory/.test(e.message));
  // A run directory stands for its metrics.jsonl; lines come back in step order.
  await mkdir(join(dir, 'run'), { recursive: true });
  await writeFile(join(dir, 'run', 'metrics.jsonl'), '{"step":42,"train.loss":4}\n\n{"step":21,"train.loss":5,"dev.avg_rank":108}\n');
  const log = await readTrainingLog(join(dir, 'run'), 'stage 1');
  assert.deepEqual(log.rows, [{ step: 21, 'train.loss': 5, 'dev.avg_rank': 108 }, { step: 42, 'train.loss': 4 }]);
  assert.equal(log.file, join(dir, 'run', 'metrics.jsonl'));

  const mining: [string, unknown, RegExp][] = [
    ['old.mining.json', { filters: {} }, /old\.mining\.json, field "scores": no score histogram/],
    ['width.mining.json', { scores: { width: 0, start: 0, counts: {} } }, /field "scores\.width"/],
    ['ragged.mining.json', { scores: { width: 1, start: 0, counts: { negative: [1, 2], positive: [1], answer: [0, 0] } } }, /field "scores\.counts\.positive": expected 2 bin counts/],
  ];
  for (const [name, data, message] of mining) {
    await writeFile(join(dir, name), JSON.stringify(data));
    await assert.rejects(readMiningSummary(join(dir, name), 'x'), (e: Error) => e instanceof InputError && message.test(e.message), name);
  }
  await writeFile(join(dir, 'dense.mining.json'), JSON.stringify({ miner: 'mine dense', scores: new ScoreHistogram().toJSON() }));
  assert.equal((await readMiningSummary(join(dir, 'dense.mining.json'), 'x')).scoreKind, 'dense');
});

test('CLI: eval report --html-out with --train-log and --mining writes the page atomically; bad inputs exit 2 and write nothing', async () => {
  await writeFile(join(dir, 'bm25.json'), JSON.stringify({ 'top@1': 0.9, 'top@20': 1, queries: 4 }));
  await writeFile(join(dir, 's1.json'), JSON.stringify({ 'top@1': 0.2, 'top@20': 0.6, queries: 4 }));
  const hist = new ScoreHistogram();
  hist.addQuestion({ positive: [0.8], negative: [0.5, 0.81], answer: [0.9] });
  await writeFile(join(dir, 'train.dense.json.mining.json'), JSON.stringify({ miner: 'mine dense', scores: hist.toJSON() }));
  const out = join(dir, 'cli');
  const r = dprep('eval', 'report', '--input', `${join(dir, 'bm25.json')},${join(dir, 's1.json')}`, '--label', 'BM25,stage 1', '--out', join(out, 'report.md'),
    '--html-out', join(out, 'report.html'), '--train-log', join(dir, 'run'), '--mining', join(dir, 'train.dense.json.mining.json'));
  assert.equal(r.status, 0, r.stderr);
  const html = await readFile(join(out, 'report.html'), 'utf8');
  assert.deepEqual(chartSeries(html, 'chart-topk'), ['BM25', 'stage 1']);
  assert.deepEqual(chartSeries(html, 'chart-train-loss'), ['run']);
  assert.deepEqual(chartSeries(html, 'chart-mining-0'), ['kept hard negatives (2)', 'positives (1)', 'answer-bearing hits (removed) (1)']);
  assert.match(html, /dense score \(inner product\)/);
  // Files named relative to the page (or by folder and name when outside it), never by absolute path.
  assert.match(html, /From <code>run\/metrics\.jsonl<\/code> \(run\)/);
  assert.ok(!html.includes(dir), 'no absolute path in the page');
  assert.deepEqual(readdirSync(out).sort(), ['report.html', 'report.md'], 'no temp files left');

  const bad = join(dir, 'bad');
  const noStep = dprep('eval', 'report', '--input', join(dir, 'bm25.json'), '--out', join(bad, 'r.md'), '--html-out', join(bad, 'r.html'), '--train-log', join(dir, 'no-step.jsonl'));
  assert.equal(noStep.status, 2, noStep.stderr);
  assert.match(noStep.stderr, /no-step\.jsonl, line 1, field "step"/);
  assert.ok(!existsSync(bad), 'a bad log is found before anything is written');
  const noHtml = dprep('eval', 'report', '--input', join(dir, 'bm25.json'), '--out', join(bad, 'r.md'), '--mining', join(dir, 'train.dense.json.mining.json'));
  assert.equal(noHtml.status, 2);
  assert.match(noHtml.stderr, /give --html-out too/);
  const labels = dprep('eval', 'report', '--input', join(dir, 'bm25.json'), '--out', join(bad, 'r.md'), '--html-out', join(bad, 'r.html'), '--train-log', join(dir, 'run'), '--train-label', 'a,b');
  assert.equal(labels.status, 2);
  assert.match(labels.stderr, /--train-label: 2 labels for 1 training logs/);
  assert.ok(!existsSync(bad));
});
