/**
 * The report as one self-contained HTML page (`dprep eval report --html-out`): inline CSS and SVG,
 * no script, no font or image to fetch, so it opens offline and can be mailed or archived as is.
 * Sections: retrieval (top-k / recall@k curves per run and the metrics table), training (loss and
 * dev average rank per training log) and mined hard negatives (score histograms of the kept
 * negatives against the positives and the answer-bearing hits removed). A section without data
 * is left out. The bytes depend only on the inputs (no clock), like every dprep output.
 */
import { DPREP_VERSION } from '../version.ts';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { escapeXml, formatValue, histogramChart, lineChart, type LineSeries } from './charts.ts';
import { reportJson, type ReportRow } from './report.ts';
import type { MiningSummary, TrainingLog } from './report-inputs.ts';

export interface HtmlReportData {
  runs: readonly ReportRow[];
  training?: readonly TrainingLog[];
  mining?: readonly MiningSummary[];
}

/** Metric families drawn as curves over k: `top@20` / `top20`, `recall@100`. */
const CURVES = [
  { id: 'topk', pattern: /^top@?(\d+)$/, title: 'Top-k accuracy', yLabel: 'top-k accuracy', what: 'the share of questions with an answer-bearing passage in the top k' },
  { id: 'recall', pattern: /^recall@(\d+)$/, title: 'Recall@k', yLabel: 'recall@k', what: 'the share of relevant passages retrieved in the top k' },
] as const;

/**
 * The series of one metric family: per run, its (k, value) points in k order; runs without the family are left out.
 * @example curveSeries([{ label: 'BM25', metrics: { 'top@1': 0.9, 'top@20': 1 } }], /^top@?(\d+)$/) // [{ label: 'BM25', points: [{x:1,y:0.9},{x:20,y:1}] }]
 */
export function curveSeries(runs: readonly ReportRow[], pattern: RegExp): LineSeries[] {
  const out: LineSeries[] = [];
  for (const run of runs) {
    const points = Object.entries(run.metrics).flatMap(([name, y]) => {
      const m = pattern.exec(name);
      return m ? [{ x: Number(m[1]), y }] : [];
    });
    if (points.length) out.push({ label: run.label, points: points.sort((a, b) => a.x - b.x) });
  }
  return out;
}

/**
 * One field of the training logs as series over steps (logs without it are left out).
 * @example trainingSeries(logs, 'train.loss')
 */
export function trainingSeries(logs: readonly TrainingLog[], field: string): LineSeries[] {
  return logs
    .map((log) => ({ label: log.label, points: log.rows.filter((r) => r[field] !== undefined).map((r) => ({ x: r.step, y: r[field] })) }))
    .filter((s) => s.points.length > 0);
}

/** The whole page. */
export function renderReportHtml(data: HtmlReportData): string {
  const sections = [retrievalSection(data.runs), trainingSection(data.training ?? []), miningSection(data.mining ?? [])].filter(Boolean);
  const queries = [...new Set(data.runs.map((r) => r.queries).filter((q) => q !== undefined))];
  const meta = [`runs: ${data.runs.map((r) => r.label).join(', ')}`, ...(queries.length === 1 ? [`${queries[0]} queries`] : [])];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dprep report: ${escapeXml(data.runs.map((r) => r.label).join(' / '))}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header><h1>Retrieval report</h1><p class="meta">${escapeXml(meta.join(' · '))}</p></header>
${sections.join('\n')}
<footer>Written by dprep ${escapeXml(DPREP_VERSION)} (<code>dprep eval report</code>). Self-contained: no script, nothing fetched.</footer>
</main>
</body>
</html>
`;
}

function figure(svg: string, caption: string): string {
  return `<figure>${svg}<figcaption>${caption}</figcaption></figure>`;
}

function retrievalSection(runs: readonly ReportRow[]): string {
  const charts = CURVES.flatMap((c) => {
    const series = curveSeries(runs, c.pattern);
    if (series.length === 0) return [];
    const missing = runs.filter((r) => !series.some((s) => s.label === r.label)).map((r) => r.label);
    const svg = lineChart({
      id: `chart-${c.id}`, title: c.title, xLabel: 'k (log scale)', xName: 'k', yLabel: c.yLabel, xScale: 'log', yDomain: [0, 1], series,
      description: `${c.title}, ${c.what}, for ${series.map((s) => `${s.label} (${s.points.map((p) => `k=${p.x}: ${formatValue(p.y)}`).join(', ')})`).join('; ')}.`,
    });
    return [figure(svg, `<strong>${c.title}</strong>: ${escapeXml(c.what)}; higher is better.${missing.length ? ` Not in this chart (no such metric): ${escapeXml(missing.join(', '))}.` : ''}`)];
  });
  return `<section aria-labelledby="h-retrieval"><h2 id="h-retrieval">Retrieval</h2>
<div class="charts">${charts.join('')}<div class="panel">${metricsTable(runs)}</div></div>
</section>`;
}

function metricsTable(runs: readonly ReportRow[]): string {
  const { metrics, runs: rows } = reportJson(runs);
  const withQueries = rows.some((r) => r.queries !== undefined);
  const head = ['run', ...metrics, ...(withQueries ? ['queries'] : [])].map((h, i) => `<th scope="col"${i ? ' class="num"' : ''}>${escapeXml(h)}</th>`).join('');
  const best = new Map(metrics.map((m) => [m, Math.max(...rows.map((r) => r.metrics[m] ?? -Infinity))]));
  const body = rows.map((r) => {
    const cells = metrics.map((m) => {
      const v = r.metrics[m];
      if (v === null) return '<td class="num">–</td>';
      // The best run per metric in bold (every metric here is higher-is-better).
      return `<td class="num">${v === best.get(m) && rows.length > 1 ? `<strong>${v.toFixed(4)}</strong>` : v.toFixed(4)}</td>`;
    });
    if (withQueries) cells.push(`<td class="num">${r.queries ?? '–'}</td>`);
    return `<tr><th scope="row">${escapeXml(r.label)}</th>${cells.join('')}</tr>`;
  });
  return `<table><caption>Metrics per run (best in bold)</caption><thead><tr>${head}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

function trainingSection(logs: readonly TrainingLog[]): string {
  if (logs.length === 0) return '';
  const charts = [
    { field: 'train.loss', title: 'Training loss', yLabel: 'training loss (NLL)', note: 'the in-batch negative log-likelihood, averaged over the epoch\u2019s steps so far; lower is better' },
    { field: 'dev.avg_rank', title: 'Dev average rank', yLabel: 'average rank of the positive', note: 'DPR\u2019s validation: the positive\u2019s average rank among all dev passages; lower is better' },
  ].flatMap((c) => {
    const series = trainingSeries(logs, c.field);
    if (series.length === 0) return [];
    const svg = lineChart({
      id: `chart-${c.field.replace('.', '-')}`, title: c.title, xLabel: 'optimizer step', xName: 'step', yLabel: c.yLabel, series,
      description: `${c.title} per validation for ${series.map((s) => `${s.label} (${s.points.map((p) => `step ${p.x}: ${formatValue(p.y)}`).join(', ')})`).join('; ')}.`,
    });
    return [figure(svg, `<strong>${c.title}</strong>: ${escapeXml(c.note)}. One point per validation.`)];
  });
  return `<section aria-labelledby="h-training"><h2 id="h-training">Training</h2>
<div class="charts">${charts.join('')}</div>
<p class="files">From ${logs.map((l) => `<code>${escapeXml(l.file)}</code> (${escapeXml(l.label)})`).join(', ')}.</p>
</section>`;
}

/** Series labels of a mining histogram, in SCORE_SERIES order with their totals. */
const MINING_LABELS = { positive: 'positives', negative: 'kept hard negatives', answer: 'answer-bearing hits (removed)' } as const;

function miningSection(summaries: readonly MiningSummary[]): string {
  if (summaries.length === 0) return '';
  const charts = summaries.map((m, i) => {
    const s = m.scores;
    const series = (['negative', 'positive', 'answer'] as const).filter((k) => s.totals[k] > 0).map((k) => ({ label: `${MINING_LABELS[k]} (${s.totals[k]})`, counts: s.counts[k] }));
    const xLabel = m.scoreKind === 'BM25' ? 'BM25 score' : 'dense score (inner product)';
    const svg = histogramChart({
      id: `chart-mining-${i}`, title: `Mined scores: ${m.label}`, xLabel, start: s.start, width: s.width, series,
      description: `Histogram of ${xLabel}s for ${m.label}: ${series.map((x) => x.label).join(', ')}; bins of width ${formatValue(s.width)} from ${formatValue(s.start)}.`,
    });
    const share = s.totals.negative > 0 ? ` (${((100 * s.negativesAbovePositive) / s.totals.negative).toFixed(1)}%)` : '';
    return figure(svg, `<strong>${escapeXml(m.label)}</strong> (${m.scoreKind}): kept negatives scoring at or above their own question\u2019s positive: <strong>${s.negativesAbovePositive}</strong>${share}, likely false negatives. Answer-bearing hits are the false negatives the answer filter caught.`);
  });
  return `<section aria-labelledby="h-mining"><h2 id="h-mining">Mined hard negatives</h2>
<p class="lead">Each series is drawn as its share of its own total, so a thousand negatives and a hundred positives compare. Negatives in the positives\u2019 range are the ones to look at.</p>
<div class="charts">${charts.join('')}</div>
<p class="files">From ${summaries.map((m) => `<code>${escapeXml(m.file)}</code>`).join(', ')}.</p>
</section>`;
}

const CSS = `
:root{color-scheme:light;--fg:#1d1d1f;--muted:#5a5a5f;--line:#d9d9de;--bg:#fff;--panel:#f7f7f9}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:26px;margin:0 0 2px}
h2{font-size:19px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
.meta,.files,.lead,footer{color:var(--muted);font-size:13px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:16px}
figure,.panel{margin:0;padding:10px 12px 12px;background:var(--panel);border:1px solid var(--line);border-radius:8px}
.panel{overflow-x:auto}
figcaption{font-size:13px;color:var(--muted);margin-top:4px}
svg.chart{display:block;width:100%;height:auto;font-family:inherit}
svg .grid{stroke:#e4e4e8}
svg .axis,svg .tick-mark{stroke:#55555a}
svg .tick{font-size:11px;fill:#444}
svg .axis-label{font-size:12.5px;fill:#222}
svg .legend text{font-size:12px;fill:#222}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
caption{text-align:left;font-size:13px;color:var(--muted);padding-bottom:4px}
th,td{padding:5px 10px;border-bottom:1px solid var(--line)}
table{font-size:14px}
th{white-space:nowrap}
th{text-align:left}
thead th{border-bottom:2px solid #aaa}
.num{text-align:right}
code{font-size:12px}
footer{margin-top:32px}
`.trim();

/**
 * Writes the page atomically. The files it names are shown relative to it when they lie beside or
 * below it, else as their folder and name (`stage1/metrics.jsonl`): never an absolute path, so the
 * same pipeline in two workdirs writes the same bytes (its runner writes the page in a staging dir).
 * @example await writeReportHtml('report.html', { runs, training: [await readTrainingLog('models/stage1', 'stage 1')] });
 */
export async function writeReportHtml(file: string, data: HtmlReportData): Promise<void> {
  const from = dirname(resolve(file));
  const name = (path: string) => {
    const rel = relative(from, resolve(path)).replaceAll('\\', '/');
    return rel.startsWith('../') || rel === '..' || isAbsolute(rel) ? `${basename(dirname(resolve(path)))}/${basename(path)}` : rel;
  };
  const shown = <T extends { file: string }>(x: T): T => ({ ...x, file: name(x.file) });
  await writeFileAtomic(file, renderReportHtml({ ...data, training: data.training?.map(shown), mining: data.mining?.map(shown) }));
}
