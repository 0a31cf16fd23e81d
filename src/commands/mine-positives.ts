/** `dprep mine positives`: DPR's recipe for QA pairs without passages (BM25 positives + hard negatives). */
import { defineCommand } from '../options.ts';
import { corpusColumnsOptions } from '../io/corpus-columns.ts';
import { minerOptions, minerSettings } from '../miners/options.ts';
import { analyzerFromOptions, analyzerOptions, resolveLanguage, resolveThreads } from './_bm25-options.ts';
import { SKIP_BAD_OPTION } from '../util/bad-records.ts';

export const minePositivesCommand = defineCommand({
  id: 'mine.positives',
  summary: 'Find positives for QA pairs without passages: the top BM25 passages that contain an answer (DPR)',
  description: `
Input: DPR records (--examples: .json, .jsonl, .parquet), e.g. from dprep convert nq on NQ-open, a DPR qa csv,
TriviaQA / WebQuestions / CuratedTREC lists, and a corpus (--corpus) or BM25 index (--index; built there
from --corpus when it does not exist, and kept). For each record without positive_ctxs: the first
--positives of the top --depth BM25 hits that contain an answer by DPR's has_answer (--match string, or
regex for CuratedTREC's pattern answers) become positive_ctxs (DPR used 1: the highest-ranked); the
other hits, minus every answer-bearing one, deduplicated, give --negatives hard_negative_ctxs by
--strategy. score = the BM25 score. Records that already have positive_ctxs are written unchanged.
Counted, not lost: a record with no answer-bearing hit in the top --depth (DPR discarded it) is
skipped with a reason and, with --unfound-out, written there unchanged; empty question or no
non-empty answer are skipped too. Summary: <out>.summary.json.
Example:  dprep mine positives --examples nq-open.dpr.jsonl --corpus psgs_w100.tsv --out nq.pos.jsonl --depth 100`,
  options: {
    examples: { type: 'string', required: true, role: 'input', help: 'DPR records (answers, usually no positive_ctxs)' },
    corpus: { type: 'string', role: 'input', help: 'corpus file (needed unless --index exists)' },
    ...corpusColumnsOptions,
    index: { type: 'string', role: 'input', help: 'BM25 index directory: used if it exists, else built from --corpus and kept' },
    out: { type: 'string', required: true, role: 'output', sideFiles: ['.summary.json'], help: 'output records (.json DPR array, .jsonl, .parquet)' },
    unfoundOut: { type: 'string', role: 'output', help: 'write records with no answer-bearing hit here, unchanged' },
    positives: { type: 'integer', default: 1, min: 1, help: 'answer-bearing hits kept as positives, best first (DPR: 1)' },
    ...minerOptions(100, 0),
    threads: { type: 'integer', default: 0, min: 0, help: 'worker threads for querying (0: one per core)' },
    ...analyzerOptions,
    ...SKIP_BAD_OPTION,
  },
  async run(opts, ctx) {
    const { minePositives } = await import('../miners/positives.ts');
    const language = await resolveLanguage(opts.lang, opts);
    if (language.lang) ctx.log(`mine positives: analyzer language ${language.lang} (from ${language.from})`);
    const { summary, filters, short } = await minePositives({
      examples: opts.examples,
      corpus: opts.corpus,
      corpusColumns: opts.columns,
      index: opts.index,
      out: opts.out,
      unfoundOut: opts.unfoundOut,
      positives: opts.positives,
      ...minerSettings(opts),
      threads: resolveThreads(opts.threads),
      analyzer: analyzerFromOptions({ ...opts, lang: language.lang }),
      k1: opts.k1,
      b: opts.b,
      skipBad: opts.skipBad,
      log: ctx.log,
    });
    await summary.write(opts.out);
    return { metrics: { records: summary.converted, skipped: summary.skippedTotal, positives: summary.extra.get('positives found (answer-bearing BM25 hits)') ?? 0, negatives: filters.kept, short } };
  },
});
