/**
 * BM25 analyzers: text → index terms. NFC-normalize, lowercase, split into Unicode word runs
 * (letters, digits, combining marks), then optionally drop stopwords and stem.
 *
 * - `en`: Porter2 stemming (wink-porter2-stemmer) and wink's English stopword list.
 * - `fr`: elided articles and pronouns ("l'Élysée", "qu’il", "jusqu'à") are dropped before the
 *   split, French stopwords, and a light suffix stemmer (plurals, feminine, -ement adverbs).
 * - `none`: lowercase word runs only.
 *
 * The analyzer's config is stored in an index header so queries are analyzed like the corpus.
 * Which language a data set is in follows its name (`languageOfDataset`: PIAF → fr).
 */
import { createRequire } from 'node:module';

export const ANALYZER_LANGS = ['en', 'fr', 'none'] as const;
export type AnalyzerLang = (typeof ANALYZER_LANGS)[number];
/** What `--lang` accepts: a language, or `auto` (follow the data, see `languageOfDataset`). */
export const ANALYZER_LANG_CHOICES = ['auto', ...ANALYZER_LANGS] as const;

export interface AnalyzerConfig {
  lang: AnalyzerLang;
  /** Drop the language's stopwords (ignored for `none`). */
  stopwords: boolean;
  /** Stem each term (Porter2 for English, light suffix stripping for French). */
  stem: boolean;
}

export interface Analyzer {
  readonly config: AnalyzerConfig;
  /** Terms of a text, in order, duplicates kept (their count is the term frequency). */
  analyze(text: string): string[];
  /**
   * The text as the word split sees it (NFC, lowercased, French elisions removed) and whether it is
   * pure ASCII (then its words are exactly the runs of [a-z0-9]). analyze() = split + term().
   */
  prepare(text: string): { text: string; ascii: boolean };
  /** The index term of one word of a prepared text, or undefined for a stopword. */
  term(word: string): string | undefined;
}

/**
 * Data sets known to be in a language other than English, by the name dprep's converters write:
 * the records' `dataset` field and the `<dataset>-<n>` passage ids (`convert piaf` → "piaf").
 * FQuAD is French SQuAD-format data that `convert piaf --dataset fquad` reads.
 */
const DATASET_LANGS: Readonly<Record<string, AnalyzerLang>> = { piaf: 'fr', fquad: 'fr' };

/**
 * The language of a data set named `name` (a record's `dataset`, or a passage id `<dataset>-<n>`):
 * a known name, alone or followed by a non-letter ("piaf", "piaf-v1.1", "piaf-17"); else undefined
 * (the caller's default, English).
 * @example
 * languageOfDataset('piaf')      // 'fr'
 * languageOfDataset('piaf-1203') // 'fr'
 * languageOfDataset('squad1')    // undefined
 */
export function languageOfDataset(name: string): AnalyzerLang | undefined {
  const m = /^\p{L}+/u.exec(name.toLowerCase());
  return m && Object.hasOwn(DATASET_LANGS, m[0]) ? DATASET_LANGS[m[0]] : undefined;
}

export const DEFAULT_ANALYZER: AnalyzerConfig = { lang: 'en', stopwords: true, stem: true };

/** The word split: runs of letters, digits and combining marks (global: reset lastIndex before exec loops). */
export const WORD_RE = /[\p{L}\p{N}\p{M}]+/gu;
const NON_ASCII_RE = /[^\x00-\x7f]/;
const ASCII_WORD_RE = /[a-z0-9]+/g;
// An elided French word: one of these, then an apostrophe (straight or curly), then a letter.
const FR_ELISION_RE = /(?<![\p{L}\p{N}\p{M}])(?:l|d|j|m|n|s|t|c|ç|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)['’ʼ](?=\p{L})/giu;

const require = createRequire(import.meta.url);
let englishStem: ((word: string) => string) | undefined;
let englishStopwords: Set<string> | undefined;

function getEnglishStem(): (word: string) => string {
  englishStem ??= require('wink-porter2-stemmer') as (word: string) => string;
  return englishStem;
}

function getEnglishStopwords(): Set<string> {
  englishStopwords ??= new Set(require('wink-nlp-utils/src/dictionaries/stop_words.json') as string[]);
  return englishStopwords;
}

// Common French function words; elided forms are removed before this list applies.
const FRENCH_STOPWORDS = new Set(
  `a à au aux avec ce ces cet cette dans de des du elle elles en et eux il ils je la le les leur leurs lui ma mais me
  même mes moi mon ne nos notre nous on ou où par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une
  vos votre vous y été être est sont était ont avait avoir fait sans sous si plus comme dont entre aussi très tout
  tous toute toutes cela ceci celui celle ceux celles lors depuis puis donc car ni`.split(/\s+/),
);

/**
 * Light French stemmer: folds the inflections that most often split one word into several index
 * terms (plural -s/-x, -aux → -al, feminine -e, past participle -é/-ée, -ement adverbs).
 * Deliberately conservative: it never shortens a word below 3 characters.
 */
export function frenchLightStem(word: string): string {
  let w = word;
  if (w.length > 6 && w.endsWith('ement')) return w.slice(0, -5);
  if (w.length > 4 && w.endsWith('aux')) return w.slice(0, -3) + 'al';
  if (w.length > 3 && (w.endsWith('s') || w.endsWith('x'))) w = w.slice(0, -1);
  if (w.length > 3 && w.endsWith('e')) w = w.slice(0, -1);
  if (w.length > 3 && w.endsWith('é')) w = w.slice(0, -1);
  return w;
}

/**
 * Builds an analyzer from a (partial) config; missing keys take `DEFAULT_ANALYZER`'s values.
 * @example
 * createAnalyzer({ lang: 'fr' }).analyze("L'Élysée et les palais")  // ['élys', 'palai']
 * createAnalyzer({ lang: 'en', stem: false }).analyze('The Denver Broncos') // ['denver', 'broncos']
 */
export function createAnalyzer(partial: Partial<AnalyzerConfig> = {}): Analyzer {
  const config: AnalyzerConfig = { ...DEFAULT_ANALYZER, ...partial };
  if (!ANALYZER_LANGS.includes(config.lang)) throw new Error(`unknown analyzer language "${config.lang}" (expected one of ${ANALYZER_LANGS.join(', ')})`);
  const stop = !config.stopwords ? undefined : config.lang === 'en' ? getEnglishStopwords() : config.lang === 'fr' ? FRENCH_STOPWORDS : undefined;
  const stem = !config.stem ? undefined : config.lang === 'en' ? getEnglishStem() : config.lang === 'fr' ? frenchLightStem : undefined;
  const french = config.lang === 'fr';
  // Stemming is the slow step and corpora repeat words heavily: memoize per analyzer (bounded).
  const stemCache = new Map<string, string>();
  const prepare = (text: string): { text: string; ascii: boolean } => {
    // NFC only matters outside ASCII; the test is much cheaper than normalizing.
    const ascii = !NON_ASCII_RE.test(text);
    let s = (ascii ? text : text.normalize('NFC')).toLowerCase();
    if (french) s = s.replace(FR_ELISION_RE, ' ');
    return { text: s, ascii };
  };
  const term = (word: string): string | undefined => {
    if (stop?.has(word)) return undefined;
    if (!stem) return word;
    let stemmed = stemCache.get(word);
    if (stemmed === undefined) {
      stemmed = stem(word);
      if (stemCache.size < 1 << 20) stemCache.set(word, stemmed);
    }
    return stemmed;
  };
  return {
    config,
    prepare,
    term,
    analyze(text: string): string[] {
      const prepared = prepare(text);
      // In ASCII, \p{L}\p{N}\p{M} runs of a lowercased text are [a-z0-9] runs (a cheaper regex).
      const words = prepared.text.match(prepared.ascii ? ASCII_WORD_RE : WORD_RE);
      if (!words) return [];
      if (!stop && !stem) return words;
      const out: string[] = [];
      for (const word of words) {
        const t = term(word);
        if (t !== undefined) out.push(t);
      }
      return out;
    },
  };
}
