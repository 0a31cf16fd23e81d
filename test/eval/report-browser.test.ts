/**
 * REQUIRES_CHROMIUM: renders `dprep eval report --html-out` in headless Chromium (Debian's
 * `chromium`; scripts/run-tests.mjs runs this file only where one answers, and .ci/run sets
 * DPREP_REQUIRE_CHROMIUM=1 so it cannot be left out there) and checks what the browser drew:
 * every chart with the right series and legend, each line painted where its path runs, markers
 * where their values put them against the axis ticks, nothing fetched, nothing overflowing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI, FIXTURES } from '../_paths.ts';
import { findChromium, openPage, type Page } from '../_chromium.ts';

const chromium = findChromium();
if (process.env.DPREP_REQUIRE_CHROMIUM === '1') assert.ok(chromium, 'DPREP_REQUIRE_CHROMIUM=1 but no chromium answers --version (apt-get install chromium)');

const dir = mkdtempSync(join(tmpdir(), 'dprep-report-browser-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const dprep = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, DPREP_QUIET: '1' }, timeout: 300_000 });

const RUNS = {
  BM25: { 'top@1': 0.9224, 'top@5': 0.9828, 'top@20': 1 },
  'stage 1': { 'top@1': 0.0517, 'top@5': 0.1983, 'top@20': 0.7069 },
  'stage 2': { 'top@1': 0.0431, 'top@5': 0.1897, 'top@20': 0.5431 },
};

interface Drawn {
  charts: Record<string, {
    legend: { label: string; width: number }[];
    yTicks: { label: string; y: number }[];
    series: { label: string; length: number; stroke: string; hits: number; samples: number; points: { x: number; y: number; tip: string }[] }[];
  }>;
  scrollWidth: number;
  viewport: number;
  resources: string[];
  title: string;
}

/** Runs in the page: what each chart drew, measured by the browser's own layout and hit testing. */
const MEASURE = `(() => {
  const charts = {};
  for (const svg of document.querySelectorAll('svg.chart')) {
    svg.scrollIntoView({ block: 'center' });
    const centre = (el) => { const r = el.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; };
    const series = [...svg.querySelectorAll('g.series')].map((g) => {
      const path = g.querySelector('path.line');
      const length = path.getTotalLength();
      const ctm = path.getScreenCTM();
      const samples = 9;
      let hits = 0;
      // Geometry, not dashes: a dash gap is not painted, so hit testing runs on the solid stroke.
      const dashes = path.style.strokeDasharray;
      path.style.strokeDasharray = 'none';
      for (let i = 1; i <= samples; i++) {
        const p = path.getPointAtLength((length * i) / (samples + 1));
        const s = new DOMPoint(p.x, p.y).matrixTransform(ctm);
        if (document.elementsFromPoint(s.x, s.y).includes(path)) hits++;
      }
      path.style.strokeDasharray = dashes;
      const points = [...g.querySelectorAll('.point')].map((el) => ({ ...centre(el), tip: el.querySelector('title').textContent }));
      return { label: g.dataset.series, length: length * ctm.a, stroke: getComputedStyle(path).stroke, hits, samples, points };
    });
    charts[svg.id] = {
      legend: [...svg.querySelectorAll('.legend-item')].map((g) => ({ label: g.dataset.series, width: g.getBoundingClientRect().width })),
      yTicks: [...svg.querySelectorAll('text.tick[text-anchor="end"]')].map((t) => ({ label: t.textContent, y: centre(t).y })),
      series,
    };
  }
  return { charts, scrollWidth: document.documentElement.scrollWidth, viewport: innerWidth, resources: performance.getEntriesByType('resource').map((e) => e.name), title: document.title };
})()`;

let page: Page | undefined;
let drawn: Drawn;

before(async () => {
  if (!chromium) return;
  // Real mining summaries: the quick-start fixture converted and mined with BM25.
  const q = (f: string) => join(dir, f);
  let r = dprep('convert', 'squad', '--input', join(FIXTURES, 'quickstart', 'squad-mini-train.json'), '--out', q('train.dpr.jsonl'), '--corpus', q('train.corpus.jsonl'));
  assert.equal(r.status, 0, r.stderr);
  r = dprep('mine', 'bm25', '--examples', q('train.dpr.jsonl'), '--corpus', q('train.corpus.jsonl'), '--out', q('train.bm25.json'), '--depth', '50', '--negatives', '8');
  assert.equal(r.status, 0, r.stderr);
  for (const [label, metrics] of Object.entries(RUNS)) writeFileSync(q(`${label}.json`), JSON.stringify({ ...metrics, queries: 116 }));
  const log = (rows: [number, number, number][]) => rows.map(([step, loss, rank]) => JSON.stringify({ step, 'train.loss': loss, 'dev.avg_rank': rank })).join('\n') + '\n';
  writeFileSync(q('s1.metrics.jsonl'), log([[21, 5.25, 108.8], [42, 4.01, 105.4], [63, 3.67, 105.2]]));
  writeFileSync(q('s2.metrics.jsonl'), log([[21, 3.6, 112.9], [42, 3.1, 118.3], [63, 3.02, 117.2]]));
  r = dprep('eval', 'report', '--input', Object.keys(RUNS).map((l) => q(`${l}.json`)).join(','), '--label', Object.keys(RUNS).join(','),
    '--out', q('report.md'), '--html-out', q('report.html'), '--train-log', `${q('s1.metrics.jsonl')},${q('s2.metrics.jsonl')}`, '--train-label', 'stage 1,stage 2',
    '--mining', q('train.bm25.json.mining.json'), '--mining-label', 'BM25 negatives');
  assert.equal(r.status, 0, r.stderr);
  page = await openPage(chromium, pathToFileURL(q('report.html')).href, { width: 1200, height: 900 });
  drawn = await page.evaluate<Drawn>(MEASURE);
});
after(async () => page?.close());

const skip = chromium ? false : 'no chromium (apt-get install chromium); CI requires it (DPREP_REQUIRE_CHROMIUM=1)';

test('the browser draws every chart with its series and legend, each line painted along its path, in distinct colours', { skip }, () => {
  assert.equal(drawn.title, 'dprep report: BM25 / stage 1 / stage 2');
  const expected: Record<string, string[]> = {
    'chart-topk': ['BM25', 'stage 1', 'stage 2'],
    'chart-train-loss': ['stage 1', 'stage 2'],
    'chart-dev-avg_rank': ['stage 1', 'stage 2'],
  };
  assert.deepEqual(Object.keys(drawn.charts).sort(), [...Object.keys(expected), 'chart-mining-0'].sort());
  for (const [id, chart] of Object.entries(drawn.charts)) {
    const labels = chart.series.map((s) => s.label);
    if (expected[id]) assert.deepEqual(labels, expected[id], id);
    assert.deepEqual(chart.legend.map((l) => l.label), labels, `${id}: one legend item per series`);
    for (const l of chart.legend) assert.ok(l.width > 20, `${id}: legend item ${l.label} is drawn (${l.width}px)`);
    for (const s of chart.series) {
      assert.ok(s.length > 40, `${id} ${s.label}: the line is drawn (${s.length}px)`);
      assert.ok(s.hits >= s.samples - 1, `${id} ${s.label}: painted at ${s.hits} of ${s.samples} points along its path`);
    }
    assert.equal(new Set(chart.series.map((s) => s.stroke)).size, chart.series.length, `${id}: distinct colours ${chart.series.map((s) => s.stroke)}`);
  }
  const mining = drawn.charts['chart-mining-0'].series.map((s) => s.label);
  assert.deepEqual(mining.map((l) => l.replace(/ \(\d+\)$/, '')), ['kept hard negatives', 'positives', 'answer-bearing hits (removed)']);
});

test('markers sit where their values put them against the y-axis ticks (top-k and training loss)', { skip }, () => {
  const check = (id: string, values: Record<string, number[]>) => {
    const chart = drawn.charts[id];
    const ticks = chart.yTicks.map((t) => ({ v: Number(t.label), y: t.y }));
    const [lo, hi] = [ticks[0], ticks[ticks.length - 1]];
    for (const s of chart.series) {
      assert.equal(s.points.length, values[s.label].length, `${id} ${s.label}: one marker per value`);
      s.points.forEach((p, i) => {
        const want = lo.y + ((values[s.label][i] - lo.v) / (hi.v - lo.v)) * (hi.y - lo.y);
        assert.ok(Math.abs(p.y - want) < 1.5, `${id} ${s.label} #${i}: marker at y=${p.y.toFixed(1)}, value ${values[s.label][i]} belongs at ${want.toFixed(1)}`);
      });
      // Left to right in k (or step) order.
      for (let i = 1; i < s.points.length; i++) assert.ok(s.points[i].x > s.points[i - 1].x, `${id} ${s.label}: x increases`);
    }
  };
  check('chart-topk', Object.fromEntries(Object.entries(RUNS).map(([l, m]) => [l, [m['top@1'], m['top@5'], m['top@20']]])));
  check('chart-train-loss', { 'stage 1': [5.25, 4.01, 3.67], 'stage 2': [3.6, 3.1, 3.02] });
  assert.match(drawn.charts['chart-topk'].series[1].points[2].tip, /^stage 1: k 20, top-k accuracy 0\.7069$/);
});

test('nothing is fetched and nothing overflows the window', { skip }, () => {
  assert.deepEqual(drawn.resources, []);
  assert.ok(drawn.scrollWidth <= drawn.viewport, `page ${drawn.scrollWidth}px wide in a ${drawn.viewport}px window`);
});
