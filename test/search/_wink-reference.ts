/**
 * Test oracle, not a product feature: wink-bm25-text-search (a devDependency) configured like a
 * dprep index, for the BM25 parity tests and the wink column of bench/bm25-bench.ts.
 *
 * The reference formula (read from wink-bm25-text-search 3.x `consolidate()` and `search()`):
 *   idf(t)      = ln((N − df + 0.5) / (df + 0.5) + k), with k = 1 by default — Lucene's idf
 *   doc length  = Σ over fields of (analyzed tokens × field weight); here fields title and text, weight 1
 *   impact(t,d) = tf·(k1 + 1) / (k1·(1 − b + b·dl/avgdl) + tf) · idf(t), rounded to `precision` decimals
 *   score(q,d)  = Σ over query tokens (duplicates counted) of impact(t, d)
 * dprep's index stores the same impact as Float32 without the rounding, so scores agree within
 * ~1e-5 and rankings agree up to near-ties.
 */
import { createRequire } from 'node:module';
import type { Passage } from '../../src/types.ts';
import type { Analyzer } from '../../src/text/analyzer.ts';
import type { Bm25Params } from '../../src/search/bm25/format.ts';

interface WinkEngine {
  defineConfig(cfg: { fldWeights: Record<string, number>; bm25Params?: { k1?: number; b?: number; k?: number } }): boolean;
  definePrepTasks(tasks: ((input: string) => unknown)[], field?: string): number;
  addDoc(doc: Record<string, string>, id: string | number): number;
  consolidate(precision?: number): boolean;
  search(text: string, limit?: number): [string, number][];
}

const require = createRequire(import.meta.url);

/**
 * A consolidated wink engine over `passages`; `search` returns [passage_id, score] best first.
 * Needs at least 3 passages (wink refuses fewer).
 * @example
 * const ref = createWinkReference(passages, createAnalyzer(), { k1: 1.2, b: 0.75 });
 * ref.search('super bowl', 10) // [['p3', 7.81], ...]
 */
export function createWinkReference(
  passages: Iterable<Passage>,
  analyzer: Analyzer,
  params: Bm25Params,
  opts: { indexTitle?: boolean; precision?: number } = {},
): { search(query: string, k: number): [string, number][] } {
  const engine = (require('wink-bm25-text-search') as () => WinkEngine)();
  const indexTitle = opts.indexTitle ?? true;
  engine.defineConfig({ fldWeights: indexTitle ? { title: 1, text: 1 } : { text: 1 }, bm25Params: { k1: params.k1, b: params.b, k: 1 } });
  engine.definePrepTasks([(s) => analyzer.analyze(s)]);
  for (const p of passages) engine.addDoc(indexTitle ? { title: p.title, text: p.text } : { text: p.text }, p.passage_id);
  // 9 decimals: the most wink keeps; makes its rounding negligible next to Float32.
  engine.consolidate(opts.precision ?? 9);
  return { search: (query, k) => engine.search(query, k) };
}
