/**
 * What `dprep eval report` reads: the runs' metrics JSON (`dprep eval --out`), and for the HTML
 * page training logs (a trainer's
 * `metrics.jsonl`: one line per validation with `step`, `train.loss`, `dev.avg_rank`) and mining
 * summaries (`<out>.mining.json` of `mine bm25` / `mine dense` with their score histogram).
 * Bad files are InputErrors naming the file, the line and the field.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readJsonLines } from '../io/lines.ts';
import { InputError } from '../util/errors.ts';
import { SCORE_SERIES, type ScoreHistogramJson } from '../util/score-histogram.ts';
import type { ReportRow } from './report.ts';

/**
 * One run's metrics JSON as a report row: its numbers (but `queries`) as metrics.
 * @example await readMetricsRow('eval/bm25.metrics.json', 'BM25') // { label: 'BM25', metrics: { 'top@1': 0.92, … }, queries: 116 }
 */
export async function readMetricsRow(file: string, label: string): Promise<ReportRow> {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(file, undefined, undefined, `cannot read metrics JSON (${(err as Error).message})`);
  }
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(data)) if (k !== 'queries' && typeof v === 'number') metrics[k] = v;
  return { label, metrics, queries: typeof data.queries === 'number' ? data.queries : undefined };
}

/** One training run's validation lines, in step order. */
export interface TrainingLog {
  label: string;
  file: string;
  /** `step` and whatever numbers the line holds (`train.loss`, `dev.avg_rank`, `dev.nll`, `dev.top20` …). */
  rows: Record<string, number>[];
}

/** One mining run's score histogram and filter totals. */
export interface MiningSummary {
  label: string;
  file: string;
  /** What the scores are: BM25 scores, or the dense model's inner products. */
  scoreKind: 'BM25' | 'dense';
  scores: ScoreHistogramJson;
  /** What each mining filter removed (`hits`, `positive`, `answer`, … `kept`). */
  filters?: Record<string, number>;
}

/**
 * A `LABEL=FILE` item split, or the file with its default label; `=` inside a path is not a label.
 * @example splitLabel('stage 1=models/stage1/metrics.jsonl', () => 'x') // { label: 'stage 1', file: 'models/stage1/metrics.jsonl' }
 */
export function splitLabel(item: string, defaultLabel: (file: string) => string): { label: string; file: string } {
  const eq = item.indexOf('=');
  if (eq > 0 && !item.slice(0, eq).includes('/')) return { label: item.slice(0, eq), file: item.slice(eq + 1) };
  return { label: defaultLabel(item), file: item };
}

/** A metrics file's default label: its name without `.metrics.json` / `.json`. */
export const metricsLabel = (file: string): string => basename(file).replace(/(\.metrics)?\.json$/, '');

/** A training log's default label: its run directory's name (`models/stage1/metrics.jsonl` → `stage1`). */
export const trainingLabel = (file: string): string => (basename(file) === 'metrics.jsonl' ? basename(dirname(file)) : basename(file).replace(/\.jsonl$/, ''));

/** A mining summary's default label: the mined file's name (`data/stage2.train.json.mining.json` → `stage2.train.json`). */
export const miningLabel = (file: string): string => basename(file).replace(/\.(mining|summary)\.json$/, '');

/**
 * Reads a trainer's metrics.jsonl (or the run directory holding it).
 * @example const log = await readTrainingLog('models/stage1', 'stage 1'); log.rows[0]['train.loss']
 */
export async function readTrainingLog(path: string, label: string): Promise<TrainingLog> {
  const st = await stat(path).catch(() => undefined);
  const file = st?.isDirectory() ? join(path, 'metrics.jsonl') : path;
  if (!st || (st.isDirectory() && !existsSync(file))) throw new InputError(file, undefined, undefined, 'not found: give a trainer\'s metrics.jsonl or its run directory (the --out of dprep train)');
  const rows: Record<string, number>[] = [];
  try {
    for await (const { value, where } of readJsonLines(file)) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(file, where, undefined, 'expected a JSON object (a trainer metrics line)');
      const v = value as Record<string, unknown>;
      if (typeof v.step !== 'number' || !Number.isFinite(v.step)) throw new InputError(file, where, 'step', 'expected the step number of a trainer metrics line');
      const row: Record<string, number> = {};
      for (const [k, x] of Object.entries(v)) if (typeof x === 'number' && Number.isFinite(x)) row[k] = x;
      rows.push(row);
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(file, undefined, undefined, `cannot read the training log (${(err as Error).message}); give a trainer's metrics.jsonl or its run directory`);
  }
  if (rows.length === 0) throw new InputError(file, undefined, undefined, 'no metrics lines: the training never validated (or the file is not a trainer\'s metrics.jsonl)');
  rows.sort((a, b) => a.step - b.step);
  return { label, file, rows };
}

/**
 * Reads a miner's `<out>.mining.json` and checks its score histogram.
 * @example const m = await readMiningSummary('data/stage1.train.json.mining.json', 'BM25 (train)'); m.scores.totals.negative
 */
export async function readMiningSummary(file: string, label: string): Promise<MiningSummary> {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError(file, undefined, undefined, `cannot read the mining summary JSON (${(err as Error).message}); give the <out>.mining.json that mine bm25 or mine dense wrote`);
  }
  const scores = data?.scores as ScoreHistogramJson | undefined;
  if (typeof scores !== 'object' || scores === null) {
    throw new InputError(file, undefined, 'scores', 'no score histogram: not a mining summary, or one written before dprep recorded scores (mine again to get one)');
  }
  if (!(scores.width > 0) || !Number.isFinite(scores.start)) throw new InputError(file, undefined, 'scores.width', 'expected a positive bin width and a finite start');
  const bins = scores.counts?.negative?.length;
  for (const s of SCORE_SERIES) {
    const counts = scores.counts?.[s];
    if (!Array.isArray(counts) || counts.length !== bins || !counts.every((c) => Number.isInteger(c) && c >= 0)) {
      throw new InputError(file, undefined, `scores.counts.${s}`, `expected ${bins ?? 'the same number of'} bin counts (non-negative integers) like the other series`);
    }
  }
  const scoreKind = data.miner === 'mine dense' ? 'dense' : 'BM25';
  return { label, file, scoreKind, scores, filters: data.filters as Record<string, number> | undefined };
}
