/** Analyzer and BM25 options shared by `index bm25` and `mine bm25` (declared once). */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { ANALYZER_LANG_CHOICES, languageOfDataset, type AnalyzerConfig, type AnalyzerLang } from '../text/analyzer.ts';
import type { CorpusColumns } from '../io/corpus-columns.ts';

/** `--threads N` (declared with min 0): 0 means one per core. */
export function resolveThreads(threads: number): number {
  return threads === 0 ? availableParallelism() : threads;
}

export const analyzerOptions = {
  lang: {
    type: 'string',
    choices: ANALYZER_LANG_CHOICES,
    default: 'auto',
    help: 'analyzer language: auto (from the data: an existing index keeps its own; else the first record\'s dataset, else the corpus\'s first passage id "<dataset>-<n>": piaf or fquad → fr, anything else → en), en (Porter2, English stopwords), fr (elision, French stopwords, light stemmer), none (lowercase words only)',
  },
  noStopwords: { type: 'boolean', help: 'keep stopwords in the index and queries' },
  noStem: { type: 'boolean', help: 'do not stem terms' },
  k1: { type: 'number', min: 0, help: 'BM25 k1 (term frequency saturation); default 1.2' },
  b: { type: 'number', min: 0, max: 1, help: 'BM25 b (length normalization, 0..1); default 0.75' },
} as const;

/** The analyzer settings the user asked for; unset keys are left to the index or the defaults. */
export function analyzerFromOptions(o: { lang?: AnalyzerLang; noStopwords: boolean; noStem: boolean }): Partial<AnalyzerConfig> {
  const out: Partial<AnalyzerConfig> = {};
  if (o.lang !== undefined) out.lang = o.lang;
  if (o.noStopwords) out.stopwords = false;
  if (o.noStem) out.stem = false;
  return out;
}

/** The analyzer language to use and what decided it (logged, and kept in the mining report). */
export interface LanguageChoice {
  /** Undefined: an existing index's own language applies. */
  lang?: AnalyzerLang;
  from: string;
}

/**
 * `--lang auto` resolved from the data (an explicit language wins). The deciding fields are part
 * of the input files' contents, so a pipeline step's cache key (which hashes them) covers the choice:
 * an existing index keeps its header's language; else the first record of `examples` by its
 * `dataset`; else the first passage of `corpus` by its id (converters write "<dataset>-<n>");
 * else English. Only the first record / passage is read (the first good one with `skipBad`: the
 * command itself counts the bad ones it passes over).
 * @example
 * await resolveLanguage('auto', { examples: 'piaf.dpr.jsonl', corpus: 'piaf.corpus.jsonl' })
 * // { lang: 'fr', from: 'dataset "piaf" of piaf.dpr.jsonl' }
 */
export async function resolveLanguage(lang: string, data: { examples?: string; corpus?: string; index?: string; columns?: CorpusColumns; skipBad?: boolean }): Promise<LanguageChoice> {
  if (lang !== 'auto') return { lang: lang as AnalyzerLang, from: '--lang' };
  if (data.index && existsSync(data.index)) return { from: `the header of index ${data.index}` };
  const onBad = data.skipBad ? () => {} : undefined;
  if (data.examples && existsSync(data.examples)) {
    const { readDprRecords } = await import('../io/records.ts');
    for await (const { record } of readDprRecords(data.examples, { onBad })) {
      const found = typeof record.dataset === 'string' ? languageOfDataset(record.dataset) : undefined;
      if (found) return { lang: found, from: `dataset "${record.dataset}" of ${data.examples}` };
      break;
    }
  }
  if (data.corpus && existsSync(data.corpus)) {
    const { readCorpus } = await import('../io/corpus.ts');
    for await (const passage of readCorpus(data.corpus, { columns: data.columns, onBad })) {
      const found = languageOfDataset(passage.passage_id);
      if (found) return { lang: found, from: `passage id "${passage.passage_id}" of ${data.corpus}` };
      break;
    }
  }
  return { lang: 'en', from: 'the default (the data names no other language)' };
}
