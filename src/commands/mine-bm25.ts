/** `dprep mine bm25`: BM25 hard negatives with DPR has_answer filtering. */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { defineCommand } from '../options.ts';
import { corpusColumnsOptions } from '../io/corpus-columns.ts';
import { SKIP_BAD_OPTION } from '../util/bad-records.ts';
import { MARGIN_OPTIONS, minerOptions, minerSettings } from '../miners/options.ts';
import { requestedUnit, unitDir, unitKey, unitRange, unitsRoot, UNIT_OPTIONS } from '../util/units.ts';
import { analyzerFromOptions, analyzerOptions, resolveLanguage, resolveThreads } from './_bm25-options.ts';
import { commitUnit, unitAlreadyDone, unitsToMerge } from './_units.ts';

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
same output whatever --threads). score = the BM25 score. Report: <out>.mining.json (filter totals, a
histogram of the positives', kept negatives' and answer-bearing hits' scores, per-record counts incl. answer-bearing hits, skipped records with reasons, the analyzer and what chose its
language). --lang auto (the default) follows the data: records converted from PIAF (dataset "piaf") are
mined with the French analyzer, others with the English one; an existing --index keeps its own.
Skipped and counted (not errors): empty question; no non-empty answer; no positive_ctxs; a positive
passage_id missing from the corpus. If every record misses its positives, it is an error (wrong corpus).
Work units: --unit I --units N mines only records [I*U, min((I+1)*U, n)) of the examples (U = ceil(n/N))
into a unit directory beside --out (.<out>.units/), against one index of the whole corpus (--index, or
built once into the units directory by the first unit); run again without --unit once all N units are
done, it merges them into --out and <out>.mining.json, the same bytes as one whole run, mining nothing again.
A bad record or passage (invalid JSON or UTF-8, a wrong field) stops the run naming file, record and
field; --skip-bad leaves it out, counted by reason in the report (records) or the log (passages).
Example:  dprep mine bm25 --examples squad.dpr.json --corpus squad.corpus.jsonl --out squad.bm25neg.json --negatives 30`,
  units: { over: 'examples' },
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
    ...UNIT_OPTIONS,
    ...SKIP_BAD_OPTION,
  },
  async run(opts, ctx) {
    const { mergeBm25Units, mineBm25, readUnitReport, UNIT_RECORDS } = await import('../miners/bm25.ts');
    const { countDprRecords } = await import('../io/records.ts');
    const unit = requestedUnit(opts, 'mine bm25');
    // What decides the bytes: every option but where and how fast the work runs.
    const { unit: _u, units: _n, threads: _t, ...params } = opts;
    const key = await unitKey('mine.bm25', params, [opts.examples, opts.corpus, opts.index]);
    const language = await resolveLanguage(opts.lang, opts);
    if (language.lang) ctx.log(`mine bm25: analyzer language ${language.lang} (from ${language.from})`);
    const settings = {
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
    };
    let report;
    if (unit) {
      const r = unitRange(await countDprRecords(opts.examples, opts.skipBad), unit.unit, unit.units);
      if (unitAlreadyDone(opts.out, r, key)) {
        ctx.log(`unit ${r.unit} of ${r.units} already done`);
        report = readUnitReport(unitDir(opts.out, r.unit, r.units));
      } else {
        await commitUnit(opts.out, r, key, async (dir) => {
          report = await mineBm25({ ...settings, out: join(dir, UNIT_RECORDS), unit: { unit: r.unit, start: r.start, end: r.end, indexDir: join(unitsRoot(opts.out), 'index') } });
        });
        ctx.log(`unit ${r.unit} of ${r.units}: records ${r.start}..${r.end}`);
      }
    } else {
      const dirs = await unitsToMerge(opts.out, key, 'mine bm25');
      report = dirs.length ? await mergeBm25Units(settings, dirs) : await mineBm25(settings);
      if (dirs.length) {
        ctx.log(`mine bm25: merged ${dirs.length} units`);
        await rm(join(unitsRoot(opts.out), 'index'), { recursive: true, force: true });
      }
    }
    report = report!;
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
