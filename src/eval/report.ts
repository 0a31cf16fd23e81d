/**
 * Puts several runs' metrics side by side (BM25 / stage 1 / stage 2 …) as a markdown table
 * and as JSON, in the order given; a metric a run lacks shows as "–" / null.
 */
import { writeFileAtomic } from '../io/atomic.ts';

export interface ReportRow {
  /** The run's name in the table: `bm25`, `stage1`, `stage2`. */
  label: string;
  metrics: Record<string, number>;
  /** Queries averaged over, when known. */
  queries?: number;
}

/** Metric names in first-seen order across rows. */
function metricNames(rows: readonly ReportRow[]): string[] {
  const names: string[] = [];
  for (const row of rows) for (const name of Object.keys(row.metrics)) if (!names.includes(name)) names.push(name);
  return names;
}

/**
 * Markdown table, one row per run, one column per metric (4 decimals).
 * @example renderReportMarkdown([{ label: 'bm25', metrics: { 'mrr@10': 0.187 } }])
 * // | run | mrr@10 |\n|---|---:|\n| bm25 | 0.1870 |
 */
export function renderReportMarkdown(rows: readonly ReportRow[]): string {
  const names = metricNames(rows);
  const withQueries = rows.some((r) => r.queries !== undefined);
  const head = ['run', ...names, ...(withQueries ? ['queries'] : [])];
  const lines = [`| ${head.join(' | ')} |`, `|---|${head.slice(1).map(() => '---:').join('|')}|`];
  for (const row of rows) {
    const cells = names.map((n) => (row.metrics[n] === undefined ? '–' : row.metrics[n].toFixed(4)));
    if (withQueries) cells.push(row.queries === undefined ? '–' : String(row.queries));
    lines.push(`| ${[row.label, ...cells].join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

/**
 * JSON form: `{ metrics: [...names], runs: [{ label, queries?, metrics: { name: value|null } }] }`.
 * @example reportJson([{ label: 'bm25', metrics: { 'mrr@10': 0.187 } }]) // { metrics: ['mrr@10'], runs: [{ label: 'bm25', metrics: { 'mrr@10': 0.187 } }] }
 */
export function reportJson(rows: readonly ReportRow[]): { metrics: string[]; runs: { label: string; queries?: number; metrics: Record<string, number | null> }[] } {
  const names = metricNames(rows);
  return {
    metrics: names,
    runs: rows.map((r) => ({
      label: r.label,
      ...(r.queries === undefined ? {} : { queries: r.queries }),
      metrics: Object.fromEntries(names.map((n) => [n, r.metrics[n] ?? null])),
    })),
  };
}

/**
 * Writes `<out>` (markdown) and, when given, `<jsonOut>` atomically.
 * @example await writeReport([{ label: 'stage1', metrics: { 'top20': 0.61 } }], 'report.md', 'report.json');
 */
export async function writeReport(rows: readonly ReportRow[], out: string, jsonOut?: string): Promise<void> {
  await writeFileAtomic(out, renderReportMarkdown(rows));
  if (jsonOut) await writeFileAtomic(jsonOut, JSON.stringify(reportJson(rows), null, 2) + '\n');
}
