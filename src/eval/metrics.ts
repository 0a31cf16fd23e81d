/**
 * Ranking metrics over a run and qrels, computed as trec_eval computes them:
 * - relevant means rel >= 1; graded rels are gains for nDCG (log2 discount, rank 1 → log2 2);
 * - a cutoff `@k` truncates the ranking first (trec_eval's `*_cut_k`, MS MARCO's MRR@10);
 * - MAP and recall divide by every relevant document in the qrels, retrieved or not; P@k by k;
 * - averages are over queries in both run and qrels (trec_eval's default), or over every qrels
 *   query with missing ones counting 0 when `complete` is set (trec_eval -c).
 *
 * Names: `mrr`, `mrr@10`, `map`, `map@100`, `recall@100`, `recall`, `ndcg@10`, `ndcg`, `p@10`.
 */
import type { Qrels, Run } from './trec.ts';
import { UsageError } from '../util/errors.ts';

export type MetricKind = 'mrr' | 'map' | 'recall' | 'ndcg' | 'p';

export interface MetricSpec {
  /** The canonical name, used as the key in results: `mrr@10`. */
  name: string;
  kind: MetricKind;
  /** Ranking cutoff; undefined = the whole run. */
  k?: number;
}

const KINDS: Record<string, MetricKind> = { mrr: 'mrr', recip_rank: 'mrr', map: 'map', recall: 'recall', ndcg: 'ndcg', p: 'p', precision: 'p' };

/**
 * Parses metric names such as `mrr@10`, `recall@100`, `ndcg@10`, `map`.
 * @example parseMetrics(['mrr@10', 'ndcg@10']) // [{ name: 'mrr@10', kind: 'mrr', k: 10 }, ...]
 */
export function parseMetrics(names: readonly string[]): MetricSpec[] {
  return names.map((raw) => {
    const m = /^([a-z_]+)(?:@(\d+))?$/.exec(raw.trim().toLowerCase());
    const kind = m ? KINDS[m[1]] : undefined;
    if (!m || !kind) throw new UsageError(`unknown metric "${raw}"; known: mrr[@k], map[@k], recall[@k], ndcg[@k], p@k`);
    const k = m[2] === undefined ? undefined : Number(m[2]);
    if (k === 0) throw new UsageError(`metric "${raw}": the cutoff must be at least 1`);
    if (kind === 'p' && k === undefined) throw new UsageError(`metric "${raw}": precision needs a cutoff (p@10)`);
    return { name: k === undefined ? kind : `${kind}@${k}`, kind, k };
  });
}

/** One query's metric value from its ranked relevance grades and its qrels. */
export function queryMetric(spec: MetricSpec, rankedRels: readonly number[], judged: ReadonlyMap<string, number>): number {
  const ranked = spec.k === undefined ? rankedRels : rankedRels.slice(0, spec.k);
  let numRel = 0;
  for (const rel of judged.values()) if (rel >= 1) numRel++;
  switch (spec.kind) {
    case 'mrr': {
      const i = ranked.findIndex((rel) => rel >= 1);
      return i < 0 ? 0 : 1 / (i + 1);
    }
    case 'p':
      return ranked.filter((rel) => rel >= 1).length / spec.k!;
    case 'recall':
      return numRel === 0 ? 0 : ranked.filter((rel) => rel >= 1).length / numRel;
    case 'map': {
      if (numRel === 0) return 0;
      let found = 0;
      let sum = 0;
      ranked.forEach((rel, i) => {
        if (rel >= 1) sum += ++found / (i + 1);
      });
      return sum / numRel;
    }
    case 'ndcg': {
      const dcg = discountedGain(ranked);
      const ideal = [...judged.values()].filter((rel) => rel > 0).sort((a, b) => b - a);
      const idcg = discountedGain(spec.k === undefined ? ideal : ideal.slice(0, spec.k));
      return idcg === 0 ? 0 : dcg / idcg;
    }
  }
}

function discountedGain(rels: readonly number[]): number {
  let sum = 0;
  rels.forEach((rel, i) => {
    if (rel > 0) sum += rel / Math.log2(i + 2);
  });
  return sum;
}

export interface EvaluationResult {
  /** Mean of each metric over the evaluated queries, keyed by canonical name. */
  metrics: Record<string, number>;
  /** Number of queries averaged over. */
  queries: number;
  /** Per-query values (qid → metric name → value). */
  perQuery: Map<string, Record<string, number>>;
  /** Run queries with no qrels (not evaluated, as in trec_eval). */
  unjudgedQueries: number;
}

/**
 * Evaluates a run against qrels.
 * @example evaluateRun(run, qrels, parseMetrics(['mrr@10'])).metrics['mrr@10']
 */
export function evaluateRun(run: Run, qrels: Qrels, specs: readonly MetricSpec[], opts: { complete?: boolean } = {}): EvaluationResult {
  const perQuery = new Map<string, Record<string, number>>();
  let unjudgedQueries = 0;
  for (const [qid, entries] of run) {
    const judged = qrels.get(qid);
    if (!judged) {
      unjudgedQueries++;
      continue;
    }
    const rankedRels = entries.map((e) => judged.get(e.docid) ?? 0);
    const values: Record<string, number> = {};
    for (const spec of specs) values[spec.name] = queryMetric(spec, rankedRels, judged);
    perQuery.set(qid, values);
  }
  if (opts.complete) {
    for (const qid of qrels.keys()) {
      if (!perQuery.has(qid)) perQuery.set(qid, Object.fromEntries(specs.map((s) => [s.name, 0])));
    }
  }
  const metrics: Record<string, number> = {};
  for (const spec of specs) {
    let sum = 0;
    for (const values of perQuery.values()) sum += values[spec.name];
    metrics[spec.name] = perQuery.size === 0 ? 0 : sum / perQuery.size;
  }
  return { metrics, queries: perQuery.size, perQuery, unjudgedQueries };
}
