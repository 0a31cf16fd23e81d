/**
 * Small, self-contained SVG charts for the HTML report: line charts (top-k and recall@k per run,
 * training curves) and overlaid histograms (mining scores). Plain strings, no DOM and no script:
 * every chart carries its own title, description, axis labels and legend; series differ by
 * colour (Okabe–Ito, safe for colour-blind readers), dash pattern and marker shape at once.
 * Each series is a `<g class="series" data-series="LABEL">` so tests and readers can find it.
 */

/** Okabe & Ito's colour-blind-safe palette, without its yellow (too light on white). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#000000'] as const;
const DASHES = ['', '7 4', '2 3', '9 3 2 3', '4 4', '1 5', '12 4'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'circle', 'square', 'triangle'] as const;

/** Plot size and margins in SVG user units (the SVG scales to its container's width). */
const W = 560;
const H = 330;
const M = { left: 64, right: 18, top: 44, bottom: 50 };

/** A map from a data interval to a pixel interval. */
export type Scale = (v: number) => number;

/**
 * Linear map of `domain` onto `range` (a degenerate domain maps to the range's middle).
 * @example linearScale([0, 1], [300, 50])(0.5) // 175
 */
export function linearScale([d0, d1]: readonly [number, number], [r0, r1]: readonly [number, number]): Scale {
  if (d1 === d0) return () => (r0 + r1) / 2;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/**
 * Log map of a positive `domain` onto `range`: the x axis of k (1, 5, 20, 100).
 * @example logScale([1, 100], [0, 200])(10) // 100
 */
export function logScale([d0, d1]: readonly [number, number], range: readonly [number, number]): Scale {
  const lin = linearScale([Math.log10(d0), Math.log10(d1)], range);
  return (v) => lin(Math.log10(v));
}

/**
 * About `count` round tick values (1, 2 or 5 × 10^n apart) covering [min, max].
 * @example niceTicks(0, 108.7) // [0, 20, 40, 60, 80, 100, 120]
 */
export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** Escapes text for SVG/HTML content and attributes. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Coordinates with 2 decimals, trailing zeros dropped: small files, exact enough at any zoom. */
export const fmt = (v: number): string => String(Math.round(v * 100) / 100);

/** A short, readable number for ticks and tooltips (0.7069, 108.8, 2412). */
export function formatValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(1) : a >= 1 ? String(Number(v.toFixed(3))) : String(Number(v.toPrecision(4)));
}

export interface LineSeries {
  label: string;
  points: readonly { x: number; y: number }[];
}

export interface LineChartSpec {
  /** Unique in the page: the SVG's title/desc ids derive from it. */
  id: string;
  title: string;
  /** Read by screen readers (and shown nowhere else). */
  description: string;
  xLabel: string;
  yLabel: string;
  /** x's name in the points' tooltips (default: xLabel). */
  xName?: string;
  series: readonly LineSeries[];
  xScale?: 'linear' | 'log';
  /** Fixed y range (accuracy: [0, 1]); default: 0 (or the data's minimum when negative) to a round maximum. */
  yDomain?: readonly [number, number];
  /** x ticks (default: the distinct x values on a log axis, round values on a linear one). */
  xTicks?: readonly number[];
}

/** The drawing area inside the margins, and the y (top → bottom) pixel range. */
const plot = { x0: M.left, x1: W - M.right, y0: H - M.bottom, y1: M.top };

/**
 * A line chart with markers, as an `<svg>` string.
 * @example lineChart({ id: 'topk', title: 'Top-k accuracy', description: '…', xLabel: 'k', yLabel: 'accuracy',
 *   xScale: 'log', yDomain: [0, 1], series: [{ label: 'BM25', points: [{ x: 1, y: 0.9 }, { x: 20, y: 1 }] }] })
 */
export function lineChart(spec: LineChartSpec): string {
  const all = spec.series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const log = spec.xScale === 'log';
  let xDomain: [number, number] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  if (log && xDomain[0] === xDomain[1]) xDomain = [xDomain[0] / 2, xDomain[1] * 2];
  // A linear axis starts at 0 when the data are positive (steps): the first point's distance from it reads.
  if (!log && xDomain[0] > 0) xDomain[0] = 0;
  const xTicks = spec.xTicks ?? (log ? [...new Set(xs)].sort((a, b) => a - b) : niceTicks(xDomain[0], xDomain[1]));
  if (!log && xTicks.length > 1) xDomain = [Math.min(xDomain[0], xTicks[0]), Math.max(xDomain[1], xTicks[xTicks.length - 1])];
  const yTicks = spec.yDomain ? niceTicks(spec.yDomain[0], spec.yDomain[1], 5) : niceTicks(Math.min(0, ...ys), ys.length ? Math.max(...ys) : 1, 5);
  const yDomain = spec.yDomain ?? ([yTicks[0], yTicks[yTicks.length - 1]] as const);
  // Log axes get a little room so the first and last markers are not on the frame.
  const pad = log ? 14 : 0;
  const x = (log ? logScale : linearScale)(xDomain, [plot.x0 + pad, plot.x1 - pad]);
  const y = linearScale(yDomain, [plot.y0, plot.y1]);
  const body = spec.series.map((s, i) => {
    const pts = s.points.map((p) => `${fmt(x(p.x))},${fmt(y(p.y))}`);
    const marks = s.points.map((p) => marker(i, x(p.x), y(p.y), `${s.label}: ${spec.xName ?? spec.xLabel} ${formatValue(p.x)}, ${spec.yLabel} ${formatValue(p.y)}`));
    return (
      `<g class="series" data-series="${escapeXml(s.label)}">` +
      `<path class="line" d="M${pts.join('L')}" fill="none" stroke="${color(i)}" stroke-width="2.25"${dash(i)} stroke-linejoin="round"/>` +
      marks.join('') +
      '</g>'
    );
  });
  return frame(spec, legend(spec.series.map((s) => s.label), 'line') + axes(spec, x, y, xTicks, yTicks) + body.join(''));
}

export interface HistogramSeries {
  label: string;
  /** Counts per bin (same length for every series). */
  counts: readonly number[];
}

export interface HistogramSpec {
  id: string;
  title: string;
  description: string;
  xLabel: string;
  /** Bin i covers [start + i·width, start + (i+1)·width). */
  start: number;
  width: number;
  series: readonly HistogramSeries[];
}

/**
 * Overlaid histograms, each series drawn as its share of its own total (series of very different
 * sizes compare), as outlined steps with a light fill so overlaps stay visible.
 * @example histogramChart({ id: 'h', title: 'Scores', description: '…', xLabel: 'BM25 score', start: 0, width: 2,
 *   series: [{ label: 'kept negatives', counts: [3, 5, 1] }, { label: 'positives', counts: [0, 1, 2] }] })
 */
export function histogramChart(spec: HistogramSpec): string {
  const n = Math.max(0, ...spec.series.map((s) => s.counts.length));
  const end = spec.start + n * spec.width;
  const shares = spec.series.map((s) => {
    const total = s.counts.reduce((a, b) => a + b, 0);
    return s.counts.map((c) => (total > 0 ? c / total : 0));
  });
  const xTicks = niceTicks(spec.start, end, 7).filter((t) => t >= spec.start - 1e-12 && t <= end + 1e-12);
  const yTicks = niceTicks(0, Math.max(0.01, ...shares.flat()), 5);
  const x = linearScale([spec.start, end], [plot.x0, plot.x1]);
  const y = linearScale([0, yTicks[yTicks.length - 1]], [plot.y0, plot.y1]);
  const body = spec.series.map((s, i) => {
    // The step outline: up and across each bin, back to the baseline at the end.
    let d = `M${fmt(x(spec.start))},${fmt(y(0))}`;
    shares[i].forEach((v, b) => (d += `V${fmt(y(v))}H${fmt(x(spec.start + (b + 1) * spec.width))}`));
    d += `V${fmt(y(0))}`;
    const bars = s.counts.map((c, b) => {
      if (c === 0) return '';
      const lo = spec.start + b * spec.width;
      return `<rect class="bin" x="${fmt(x(lo))}" y="${fmt(y(shares[i][b]))}" width="${fmt(x(lo + spec.width) - x(lo))}" height="${fmt(y(0) - y(shares[i][b]))}" fill="transparent"><title>${escapeXml(`${s.label}: ${c} in [${formatValue(lo)}, ${formatValue(lo + spec.width)})`)}</title></rect>`;
    });
    return (
      `<g class="series" data-series="${escapeXml(s.label)}">` +
      `<path class="line" d="${d}" fill="${color(i)}" fill-opacity="0.12" stroke="${color(i)}" stroke-width="2"${dash(i)}/>` +
      bars.join('') +
      '</g>'
    );
  });
  return frame(spec, legend(spec.series.map((s) => s.label), 'area') + axes({ xLabel: spec.xLabel, yLabel: 'share of the series\u2019 scores' }, x, y, xTicks, yTicks, (v) => `${Math.round(v * 100)}%`) + body.join(''));
}

const color = (i: number) => PALETTE[i % PALETTE.length];
const dash = (i: number) => (DASHES[i % DASHES.length] ? ` stroke-dasharray="${DASHES[i % DASHES.length]}"` : '');

/** Marker `i`'s shape at (cx, cy), with a tooltip. */
function marker(i: number, cx: number, cy: number, tip: string): string {
  const c = color(i);
  const t = `<title>${escapeXml(tip)}</title>`;
  const r = 4;
  switch (MARKERS[i % MARKERS.length]) {
    case 'square':
      return `<rect class="point" x="${fmt(cx - r)}" y="${fmt(cy - r)}" width="${2 * r}" height="${2 * r}" fill="${c}">${t}</rect>`;
    case 'triangle':
      return `<path class="point" d="M${fmt(cx)},${fmt(cy - r - 1)}L${fmt(cx + r + 1)},${fmt(cy + r)}L${fmt(cx - r - 1)},${fmt(cy + r)}Z" fill="${c}">${t}</path>`;
    case 'diamond':
      return `<path class="point" d="M${fmt(cx)},${fmt(cy - r - 1)}L${fmt(cx + r + 1)},${fmt(cy)}L${fmt(cx)},${fmt(cy + r + 1)}L${fmt(cx - r - 1)},${fmt(cy)}Z" fill="${c}">${t}</path>`;
    default:
      return `<circle class="point" cx="${fmt(cx)}" cy="${fmt(cy)}" r="${r}" fill="${c}">${t}</circle>`;
  }
}

/** Grid lines, tick labels and axis titles. */
function axes(spec: { xLabel: string; yLabel: string }, x: Scale, y: Scale, xTicks: readonly number[], yTicks: readonly number[], yFormat = formatValue): string {
  const parts: string[] = [];
  for (const t of yTicks) {
    const py = fmt(y(t));
    parts.push(`<line class="grid" x1="${plot.x0}" x2="${plot.x1}" y1="${py}" y2="${py}"/>`, `<text class="tick" x="${plot.x0 - 8}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeXml(yFormat(t))}</text>`);
  }
  for (const t of xTicks) {
    const px = fmt(x(t));
    parts.push(`<line class="tick-mark" x1="${px}" x2="${px}" y1="${plot.y0}" y2="${plot.y0 + 5}"/>`, `<text class="tick" x="${px}" y="${plot.y0 + 18}" text-anchor="middle">${escapeXml(formatValue(t))}</text>`);
  }
  parts.push(
    `<line class="axis" x1="${plot.x0}" x2="${plot.x1}" y1="${plot.y0}" y2="${plot.y0}"/>`,
    `<line class="axis" x1="${plot.x0}" x2="${plot.x0}" y1="${plot.y0}" y2="${plot.y1}"/>`,
    `<text class="axis-label" x="${fmt((plot.x0 + plot.x1) / 2)}" y="${H - 10}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text class="axis-label" transform="translate(16 ${fmt((plot.y0 + plot.y1) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  return `<g class="axes">${parts.join('')}</g>`;
}

/**
 * The legend, in rows above the plot: per label a swatch drawn like its series, a line with its
 * marker (`line`) or an outlined, lightly filled box (`area`).
 */
function legend(labels: readonly string[], kind: 'line' | 'area'): string {
  let at = plot.x0;
  let row = 0;
  const items = labels.map((label, i) => {
    const width = 48 + label.length * 6.5;
    if (at > plot.x0 && at + width > plot.x1) {
      at = plot.x0;
      row++;
    }
    const item =
      `<g class="legend-item" data-series="${escapeXml(label)}" transform="translate(${fmt(at)} ${14 + row * 17})">` +
      (kind === 'line'
        ? `<line x1="0" x2="26" y1="0" y2="0" stroke="${color(i)}" stroke-width="2.5"${dash(i)}/>` + marker(i, 13, 0, label)
        : `<rect x="1" y="-6" width="24" height="12" fill="${color(i)}" fill-opacity="0.12" stroke="${color(i)}" stroke-width="2"${dash(i)}/>`) +
      `<text x="32" y="0" dominant-baseline="middle">${escapeXml(label)}</text></g>`;
    at += width;
    return item;
  });
  return `<g class="legend">${items.join('')}</g>`;
}

/** The `<svg>` with its accessible name and description around the legend and the plot. */
function frame(spec: { id: string; title: string; description: string }, inner: string): string {
  const t = `${spec.id}-title`;
  const d = `${spec.id}-desc`;
  return (
    `<svg class="chart" id="${escapeXml(spec.id)}" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${t} ${d}">` +
    `<title id="${t}">${escapeXml(spec.title)}</title><desc id="${d}">${escapeXml(spec.description)}</desc>` +
    inner +
    '</svg>'
  );
}
