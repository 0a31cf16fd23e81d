/** Analyzer and BM25 options shared by `index bm25` and `mine bm25` (declared once). */
import { availableParallelism } from 'node:os';
import { ANALYZER_LANGS, type AnalyzerConfig, type AnalyzerLang } from '../text/analyzer.ts';

/** `--threads N` (declared with min 0): 0 means one per core. */
export function resolveThreads(threads: number): number {
  return threads === 0 ? availableParallelism() : threads;
}

export const analyzerOptions = {
  lang: { type: 'string', choices: ANALYZER_LANGS, help: 'analyzer language: en (Porter2, English stopwords), fr (elision, French stopwords, light stemmer), none (lowercase words only); default en' },
  noStopwords: { type: 'boolean', help: 'keep stopwords in the index and queries' },
  noStem: { type: 'boolean', help: 'do not stem terms' },
  k1: { type: 'number', min: 0, help: 'BM25 k1 (term frequency saturation); default 1.2' },
  b: { type: 'number', min: 0, max: 1, help: 'BM25 b (length normalization, 0..1); default 0.75' },
} as const;

/** The analyzer settings the user asked for; unset keys are left to the index or the defaults. */
export function analyzerFromOptions(o: { lang?: string; noStopwords: boolean; noStem: boolean }): Partial<AnalyzerConfig> {
  const out: Partial<AnalyzerConfig> = {};
  if (o.lang !== undefined) out.lang = o.lang as AnalyzerLang;
  if (o.noStopwords) out.stopwords = false;
  if (o.noStem) out.stem = false;
  return out;
}
