/**
 * BM25 hard-negative mining.
 *
 * Input: DPR records (JSON array, JSON lines or Parquet) and a corpus (JSONL, TSV, Parquet) or a
 * prebuilt index (`dprep index bm25`). Output: the same records, positives and answers kept,
 * with `hard_negative_ctxs` = the top BM25 hits that are not a positive (by id, or by normalized
 * text) and do not contain an answer (DPR has_answer), sampled `top` or `random` (seeded per record)
 * down to `negatives`; `score` is the BM25 score. A report `<out>.mining.json` holds the filter
 * totals, per-record counts (answer-bearing hits are the false negatives the filter caught) and
 * the records skipped with their reasons.
 *
 * Skips (counted, listed in the report): a record with an empty question; whose answers are all
 * empty (`answers: []` is mined, filtered by positives only: MS MARCO); with no positive_ctxs; or with a positive whose passage_id is not in the
 * corpus. When every record is skipped for that last reason the corpus is the wrong one: error.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { DprRecord } from '../types.ts';
import type { AnalyzerConfig } from '../text/analyzer.ts';
import { isEmptyAnswer } from '../text/answer.ts';
import { openRecordWriter, readDprRecords, type RecordFormat } from '../io/records.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { assertReadableFile } from '../io/lines.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { Progress } from '../util/progress.ts';
import { Summary } from '../util/summary.ts';
import { addCounts, emptyCounts, normalizeForDedup, unusableAnswers, NO_ANSWERS_NOTE, type FilterCounts } from './filter.ts';
import { buildIndexFromCorpus } from '../search/bm25/builder.ts';
import { Bm25Index, readHeader } from '../search/bm25/index.ts';
import type { Bm25Header } from '../search/bm25/format.ts';
import { startBm25Pool } from '../search/bm25/pool.ts';
import { mineTask, toNegativeCtxs, type MineJob, type MineResult, type MineSettings } from './bm25-task.ts';

/** The mining settings (`MineSettings`: depth, negatives, strategy, seed, match, checkTitle) plus I/O. */
export interface MineBm25Options extends MineSettings {
  examples: string;
  /** Corpus file; needed unless `index` names an existing index. */
  corpus?: string;
  /** Index directory: used when it exists, built there (and kept) when it does not. */
  index?: string;
  out: string;
  format?: RecordFormat;
  threads: number;
  /** Analyzer and BM25 params for a new index; must agree with an existing index when given. */
  analyzer?: Partial<AnalyzerConfig>;
  k1?: number;
  b?: number;
  /** Records per batch handed to a worker. */
  batchSize?: number;
  log?: (message: string) => void;
}

/** One record's line in the report. */
export interface PerRecordCounts extends FilterCounts {
  record: string;
}

export interface MiningReport {
  examples: string;
  corpus: string | null;
  index: string | null;
  settings: MineSettings & { k1: number; b: number; analyzer: AnalyzerConfig; threads: number };
  records: ReturnType<Summary['toJSON']>;
  /** Records that got fewer negatives than asked. */
  short: number;
  filters: FilterCounts;
  perRecord: PerRecordCounts[];
}

interface Pending {
  record: DprRecord;
  where: string;
}

/**
 * Mines BM25 hard negatives for every record of `examples` and writes `out` plus `<out>.mining.json`.
 * @example
 * await mineBm25({ examples: 'squad.dpr.json', corpus: 'squad.corpus.jsonl', out: 'neg.json', depth: 100,
 *   negatives: 30, strategy: 'top', seed: 13, match: 'string', checkTitle: false, threads: 2 });
 */
export async function mineBm25(opts: MineBm25Options): Promise<MiningReport> {
  const log = opts.log ?? (() => {});
  if (opts.depth < 1) throw new UsageError(`--depth must be at least 1, got ${opts.depth}`);
  if (opts.negatives < 0) throw new UsageError(`--negatives must be 0 or more, got ${opts.negatives}`);
  await assertReadableFile(opts.examples);

  let indexDir = opts.index;
  let tempDir: string | undefined;
  if (!indexDir || !existsSync(indexDir)) {
    if (!opts.corpus) throw new UsageError(opts.index ? `index ${opts.index} does not exist and no --corpus was given to build it` : 'give --corpus (and optionally --index to keep the index)');
    if (!indexDir) {
      // Beside the output, not in /tmp: an index is about twice the corpus size.
      mkdirSync(dirname(resolve(opts.out)), { recursive: true });
      tempDir = mkdtempSync(join(dirname(resolve(opts.out)), `.${basename(opts.out)}.bm25-`));
      indexDir = join(tempDir, 'index');
    }
    try {
      await buildIndexFromCorpus(opts.corpus, indexDir, { analyzer: opts.analyzer, k1: opts.k1, b: opts.b, threads: opts.threads > 1 ? opts.threads : 0 }, log);
    } catch (err) {
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      throw err;
    }
  } else {
    const header = checkIndexAgrees(indexDir, opts);
    if (opts.corpus && header.source) {
      const st = statSync(opts.corpus);
      if (st.size !== header.source.bytes || st.mtimeMs !== header.source.mtimeMs) {
        log(`warning: ${opts.corpus} is not the file index ${indexDir} was built from (${header.source.file}, ${header.source.bytes} bytes); mining uses the index's passages`);
      }
    }
  }

  const index = Bm25Index.open(indexDir, { shared: opts.threads > 1 });
  const settings: MineSettings = {
    depth: opts.depth,
    negatives: opts.negatives,
    strategy: opts.strategy,
    seed: opts.seed,
    match: opts.match,
    checkTitle: opts.checkTitle,
  };
  const runner = await startBm25Pool(index, opts.threads, mineTask(settings));
  const summary = new Summary('mine bm25', [opts.examples, opts.corpus ?? indexDir]);
  const totals = emptyCounts();
  const perRecord: PerRecordCounts[] = [];
  let short = 0;
  let missingPositive = 0;
  const writer = await openRecordWriter(opts.out, opts.format);
  const progress = new Progress('mine bm25', { unit: 'records' });
  try {
    const batchSize = opts.batchSize ?? 32;
    // Batches in flight, oldest first: written in input order whatever finishes first.
    const window: { items: Pending[]; results: Promise<MineResult[]> }[] = [];
    const flushOne = async () => {
      const { items, results } = window.shift()!;
      const mined = await results;
      for (let i = 0; i < items.length; i++) {
        const { record, where } = items[i];
        const { counts } = mined[i];
        const negatives = toNegativeCtxs(index.store, mined[i]);
        await writer.write({ ...record, hard_negative_ctxs: negatives });
        summary.converted++;
        addCounts(totals, counts);
        perRecord.push({ record: where, ...counts });
        if (negatives.length < opts.negatives) short++;
      }
      progress.tick(items.length);
    };
    let items: Pending[] = [];
    let jobs: MineJob[] = [];
    const submit = async () => {
      if (items.length === 0) return;
      const results = runner.run(jobs);
      // Awaited in order by flushOne; this only keeps a failure from being reported as unhandled meanwhile.
      results.catch(() => {});
      window.push({ items, results });
      items = [];
      jobs = [];
      if (window.length > runner.threads * 2) await flushOne();
    };
    let ordinal = 0;
    for await (const { record, where } of readDprRecords(opts.examples)) {
      const thisOrdinal = ordinal++;
      summary.read++;
      const question = record.question.trim();
      if (question === '') {
        summary.skip('empty question', where);
        continue;
      }
      const answerProblem = unusableAnswers(record.answers);
      if (answerProblem) {
        summary.skip(answerProblem, where);
        continue;
      }
      const answers = record.answers.filter((a) => !isEmptyAnswer(a));
      if (answers.length === 0) summary.count(NO_ANSWERS_NOTE);
      if (record.positive_ctxs.length === 0) {
        summary.skip('no positive_ctxs', where);
        continue;
      }
      const missing = record.positive_ctxs.find((c) => index.docOf(c.passage_id) === undefined);
      if (missing) {
        missingPositive++;
        summary.skip('positive passage_id not in corpus', `${where} passage_id=${missing.passage_id}`);
        continue;
      }
      items.push({ record, where });
      jobs.push({
        ordinal: thisOrdinal,
        query: index.toTermQuery(question),
        answers,
        positiveIds: record.positive_ctxs.map((c) => c.passage_id),
        positiveTexts: record.positive_ctxs.map((c) => normalizeForDedup(c.text)),
      });
      if (items.length >= batchSize) await submit();
    }
    await submit();
    while (window.length > 0) await flushOne();
    progress.finish();
    if (summary.read > 0 && missingPositive === summary.read) {
      throw new InputError(opts.examples, undefined, 'positive_ctxs', `no record's positive passage_id is in the corpus (${opts.corpus ?? indexDir}): is it the corpus these records were made from?`);
    }
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    await runner.close();
    index.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }

  const report: MiningReport = {
    examples: opts.examples,
    corpus: opts.corpus ?? null,
    index: opts.index ?? null,
    settings: { ...settings, k1: index.header.k1, b: index.header.b, analyzer: index.header.analyzer, threads: runner.threads },
    records: summary.toJSON(),
    short,
    filters: totals,
    perRecord,
  };
  await writeFileAtomic(`${opts.out}.mining.json`, JSON.stringify(report, null, 1) + '\n');
  log(summary.render());
  log(
    `  hits ${totals.hits}: positives ${totals.positive}, answer-bearing ${totals.answer}, duplicates ${totals.duplicate}; ` +
      `negatives kept ${totals.kept}; records with fewer than ${opts.negatives}: ${short}`,
  );
  return report;
}

/** An existing index must have been built with the analyzer and k1/b the user asks for. */
function checkIndexAgrees(dir: string, opts: MineBm25Options): Bm25Header {
  const h = readHeader(dir);
  const clash: string[] = [];
  if (opts.k1 !== undefined && opts.k1 !== h.k1) clash.push(`k1 ${h.k1}`);
  if (opts.b !== undefined && opts.b !== h.b) clash.push(`b ${h.b}`);
  for (const key of ['lang', 'stopwords', 'stem'] as const) {
    const want = opts.analyzer?.[key];
    if (want !== undefined && want !== h.analyzer[key]) clash.push(`${key} ${h.analyzer[key]}`);
  }
  if (clash.length) throw new UsageError(`index ${dir} was built with ${clash.join(', ')}; omit those options or rebuild the index`);
  return h;
}
