/** `dprep mine bm25`: BM25 hard negatives with DPR has_answer filtering. */
import { defineCommand } from '../options.ts';
import { corpusColumnsOptions } from '../io/corpus-columns.ts';
import { SKIP_BAD_OPTION } from '../util/bad-records.ts';
import { MARGIN_OPTIONS, minerOptions, minerSettings } from '../miners/options.ts';
import { analyzerFromOptions, analyzerOptions, resolveLanguage, resolveThreads } from './_bm25-options.ts';

export const mineBm25Command = defineCommand({
  id: 'mine.bm25',
  summary: 'Mine BM25 hard negatives (answer-filtered, positives excluded) into DPR records',
  description: `
Input: DPR records (--examples: .json array, .jsonl or .parquet) and a corpus (--corpus) or an index
(--index; built there from --corpus when it does not exist, and kept). Output: the same records,
positives and answers kept, hard_negative_ctxs = top --depth BM25 hits minus positives (by id and
by normalized text) minus passages containing an answer (DPR has_answer; --check-title also checks
titles), minus the top --skip-top ranks, minus hits scoring above a margin to the positives
(--max-score-ratio r: above pos − (1 − r)·|pos|; --max-score-margin m: above pos − m; pos = the lowest
BM25 score of the record's positives, each scored for the question whether or not it is in the top
--depth), then --negatives of them by --strategy (top, or random with --seed, per-record streams:
same output whatever --threads). score = the BM25 score. Report: <out>.mining.json (filter totals,
per-record counts incl. answer-bearing hits, skipped records with reasons, the analyzer and what chose its
language). --lang auto (the default) follows the data: records converted from PIAF (dataset "piaf") are
mined with the French analyzer, others with the English one; an existing --index keeps its own.
Skipped and counted (not errors): empty question; no non-empty answer; no positive_ctxs; a positive
passage_id missing from the corpus. If every record misses its positives, it is an error (wrong corpus).
A bad record or passage (invalid JSON or UTF-8, a wrong field) stops the run naming file, record and
field; --skip-bad leaves it out, counted by reason in the report (records) or the log (passages).
Example:  dprep mine bm25 --examples squad.dpr.json --corpus squad.corpus.jsonl --out squad.bm25neg.json --negatives 30`,
  options: {
    examples: { type: 'string', required: true, role: 'input', help: 'DPR records to mine negatives for' },
    corpus: { type: 'string', role: 'input', help: 'corpus file (needed unless --index exists)' },
    ...corpusColumnsOptions,
    index: { type: 'string', role: 'input', help: 'BM25 index directory (dprep index bm25): used if it exists, else built from --corpus and kept; in a pipeline, another step\'s output' },
    out: { type: 'string', required: true, role: 'output', sideFiles: ['.mining.json'], help: 'output records (.json DPR array, .jsonl, .parquet)' },
    ...minerOptions(100, 0),
    ...MARGIN_OPTIONS,
    threads: { type: 'integer', default: 0, min: 0, help: 'worker threads for querying (0: one per core)' },
    ...analyzerOptions,
    ...SKIP_BAD_OPTION,
  },
  async run(opts, ctx) {
    const { mineBm25 } = await import('../miners/bm25.ts');
    const language = await resolveLanguage(opts.lang, opts);
    if (language.lang) ctx.log(`mine bm25: analyzer language ${language.lang} (from ${language.from})`);
    const report = await mineBm25({
      examples: opts.examples,
      corpus: opts.corpus,
      corpusColumns: opts.columns,
      index: opts.index,
      out: opts.out,
      ...minerSettings(opts),
      maxScoreRatio: opts.maxScoreRatio,
      maxScoreMargin: opts.maxScoreMargin,
      threads: resolveThreads(opts.threads),
      analyzer: analyzerFromOptions({ ...opts, lang: language.lang }),
      languageFrom: language.from,
      k1: opts.k1,
      b: opts.b,
      skipBad: opts.skipBad,
      log: ctx.log,
    });
    return {
      metrics: {
        records: report.records.converted,
        skipped: report.records.read - report.records.converted,
        hits: report.filters.hits,
        answerHits: report.filters.answer,
        removedSkipTop: report.filters.skipTop,
        removedMargin: report.filters.margin,
        negatives: report.filters.kept,
        short: report.short,
      },
    };
  },
});
