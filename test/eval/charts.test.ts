import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, histogramChart, lineChart, linearScale, logScale, niceTicks, PALETTE } from '../../src/eval/charts.ts';

/** The `<g class="series">` groups of an SVG string: label → inner markup. */
function seriesGroups(svg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of svg.matchAll(/<g class="series" data-series="([^"]*)">(.*?)<\/g>/g)) out.set(m[1], m[2]);
  return out;
}
/** The points of a `M x,y L x,y …` polyline. */
const polyline = (d: string) => d.slice(1).split('L').map((p) => p.split(',').map(Number) as [number, number]);
const lineOf = (group: string) => /<path class="line" d="([^"]+)"/.exec(group)![1];

test('scales: linear and log map the domain ends onto the range ends, and values in between proportionally', () => {
  const table: [string, (v: number) => number, number, number][] = [
    ['linear 0 → bottom', linearScale([0, 1], [280, 44]), 0, 280],
    ['linear 1 → top', linearScale([0, 1], [280, 44]), 1, 44],
    ['linear 0.25', linearScale([0, 1], [280, 44]), 0.25, 221],
    ['linear degenerate domain → middle', linearScale([3, 3], [0, 100]), 3, 50],
    ['log 10 halfway on [1, 100]', logScale([1, 100], [0, 200]), 10, 100],
    ['log 1000 a third of [1, 1e9]', logScale([1, 1e9], [0, 90]), 1000, 30],
  ];
  for (const [name, scale, v, px] of table) assert.ok(Math.abs(scale(v) - px) < 1e-9, `${name}: ${scale(v)} ≠ ${px}`);
});

test('niceTicks: round steps (1, 2, 5 × 10^n) that cover the range', () => {
  const table: [number, number, number, number[]][] = [
    [0, 1, 5, [0, 0.2, 0.4, 0.6, 0.8, 1]],
    [0, 108.7, 6, [0, 20, 40, 60, 80, 100, 120]],
    [0, 63, 6, [0, 20, 40, 60, 80]], // 63 / 6 = 10.5 → a step of 20
    [-0.37, 0.12, 5, [-0.4, -0.3, -0.2, -0.1, 0, 0.1, 0.2]],
    [5, 5, 5, [5]],
  ];
  for (const [min, max, count, expected] of table) assert.deepEqual(niceTicks(min, max, count), expected, `${min}..${max}`);
});

test('lineChart: one group per series, in the palette\'s order, each point where the scales put it', () => {
  const series = [
    { label: 'BM25', points: [{ x: 1, y: 0.9224 }, { x: 5, y: 0.9828 }, { x: 20, y: 1 }] },
    { label: 'stage 1', points: [{ x: 1, y: 0.0517 }, { x: 5, y: 0.1983 }, { x: 20, y: 0.7069 }] },
    { label: 'stage 2', points: [{ x: 1, y: 0.0431 }, { x: 20, y: 0.5431 }] },
  ];
  const svg = lineChart({ id: 'topk', title: 'Top-k accuracy', description: 'd', xLabel: 'k', yLabel: 'top-k accuracy', xScale: 'log', yDomain: [0, 1], series });
  const groups = seriesGroups(svg);
  assert.deepEqual([...groups.keys()], ['BM25', 'stage 1', 'stage 2']);
  // The plot spans x 64+14 … 560-18-14 (log axis padding) and y 330-50 … 44.
  const x = logScale([1, 20], [78, 528]);
  const y = linearScale([0, 1], [280, 44]);
  series.forEach((s, i) => {
    const g = groups.get(s.label)!;
    assert.match(g, new RegExp(`stroke="${PALETTE[i]}"`));
    const pts = polyline(lineOf(g));
    assert.equal(pts.length, s.points.length, `${s.label}: one vertex per point`);
    s.points.forEach((p, j) => {
      assert.ok(Math.abs(pts[j][0] - x(p.x)) <= 0.005 && Math.abs(pts[j][1] - y(p.y)) <= 0.005, `${s.label} point ${j}: ${pts[j]} vs ${x(p.x)},${y(p.y)}`);
    });
    assert.equal((g.match(/class="point"/g) ?? []).length, s.points.length, 'one marker per point');
  });
  // Different dash patterns as well as colours; the stage-1 point k=5 carries its value in a tooltip.
  assert.doesNotMatch(groups.get('BM25')!, /stroke-dasharray/);
  assert.match(groups.get('stage 1')!, /stroke-dasharray="7 4"/);
  assert.match(groups.get('stage 1')!, /<title>stage 1: k 5, top-k accuracy 0\.1983<\/title>/);
  // Accessible: role, title and description referenced; axis labels and one legend item per series.
  assert.match(svg, /^<svg class="chart" id="topk" viewBox="0 0 560 330" role="img" aria-labelledby="topk-title topk-desc"><title id="topk-title">Top-k accuracy<\/title><desc id="topk-desc">d<\/desc>/);
  assert.match(svg, /class="axis-label"[^>]*>k<\/text>/);
  assert.match(svg, /class="axis-label"[^>]*>top-k accuracy<\/text>/);
  assert.deepEqual([...svg.matchAll(/class="legend-item" data-series="([^"]*)"/g)].map((m) => m[1]), ['BM25', 'stage 1', 'stage 2']);
  // Ticks at the ks on a log axis, 0 … 1 on the y axis.
  assert.deepEqual([...svg.matchAll(/<text class="tick" x="[\d.]+" y="298" text-anchor="middle">([^<]*)</g)].map((m) => m[1]), ['1', '5', '20']);
  assert.deepEqual([...svg.matchAll(/<text class="tick" x="56"[^>]*>([^<]*)</g)].map((m) => m[1]), ['0', '0.2', '0.4', '0.6', '0.8', '1']);
});

test('lineChart on a linear axis (training steps) starts at 0 and maps the data range to round ticks', () => {
  const svg = lineChart({ id: 'loss', title: 'Training loss', description: 'd', xLabel: 'step', yLabel: 'loss', series: [{ label: 'stage 1', points: [{ x: 21, y: 5.25 }, { x: 42, y: 4.01 }, { x: 63, y: 3.67 }] }] });
  const pts = polyline(lineOf(seriesGroups(svg).get('stage 1')!));
  const x = linearScale([0, 80], [64, 542]);
  const y = linearScale([0, 6], [280, 44]);
  assert.deepEqual(pts.map(([px]) => Math.round(px * 100) / 100), [21, 42, 63].map((v) => Math.round(x(v) * 100) / 100));
  assert.deepEqual(pts.map(([, py]) => Math.round(py * 100) / 100), [5.25, 4.01, 3.67].map((v) => Math.round(y(v) * 100) / 100));
});

test('histogramChart: each series as its share of its own total, the step outline through every bin', () => {
  const series = [
    { label: 'kept hard negatives (8)', counts: [2, 4, 2, 0] },
    { label: 'positives (2)', counts: [0, 0, 1, 1] },
  ];
  const svg = histogramChart({ id: 'h', title: 'Mined scores', description: 'd', xLabel: 'BM25 score', start: 0, width: 2.5, series });
  const groups = seriesGroups(svg);
  assert.deepEqual([...groups.keys()], series.map((s) => s.label));
  const x = linearScale([0, 10], [64, 542]);
  const y = linearScale([0, 0.5], [280, 44]); // the largest share is 0.5 → ticks 0 … 0.5
  const r = (v: number) => String(Math.round(v * 100) / 100);
  const expected = (shares: number[]) => `M${r(x(0))},${r(y(0))}` + shares.map((s, b) => `V${r(y(s))}H${r(x((b + 1) * 2.5))}`).join('') + `V${r(y(0))}`;
  assert.equal(lineOf(groups.get(series[0].label)!), expected([0.25, 0.5, 0.25, 0]));
  assert.equal(lineOf(groups.get(series[1].label)!), expected([0, 0, 0.5, 0.5]));
  // One hoverable bin per non-empty count, with its count and interval.
  assert.equal((groups.get(series[0].label)!.match(/class="bin"/g) ?? []).length, 3);
  assert.match(groups.get(series[1].label)!, /<title>positives \(2\): 1 in \[5, 7\.5\)<\/title>/);
  assert.match(svg, />50%<\/text>/);
  assert.match(svg, /class="axis-label"[^>]*>BM25 score<\/text>/);
});

test('labels are escaped in the SVG (a run called <b>&"x"</b> stays text)', () => {
  const label = '<b>&"x"</b>';
  const svg = lineChart({ id: 'e', title: 'T & <t>', description: 'd', xLabel: 'k', yLabel: 'y', series: [{ label, points: [{ x: 1, y: 0.5 }] }] });
  assert.ok(!svg.includes('<b>'));
  assert.ok(seriesGroups(svg).has(escapeXml(label)));
  assert.match(svg, /<title id="e-title">T &amp; &lt;t&gt;<\/title>/);
});
