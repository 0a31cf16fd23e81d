/**
 * BM25 hard-negative mining.
 *
 * Input: DPR records (JSON array, JSON lines or Parquet) and a corpus (JSONL, TSV, Parquet) or a
 * prebuilt index (`dprep index bm25`). Output: the same records, positives and answers kept,
 * with `hard_negative_ctxs` = the top BM25 hits that are not a positive (by id, or by normalized
 * text) and do not contain an answer (DPR has_answer), sampled `top` or `random` (seeded per record)
 * down to `negatives`; `score` is the BM25 score. A report `<out>.mining.json` holds the filter
 * totals, a histogram of the positives', kept negatives' and answer-bearing hits' scores
 * (util/score-histogram.ts), per-record counts (answer-bearing hits are the false negatives the
 * filter caught) and the records skipped with their reasons.
 *
 * Skips (counted, listed in the report): the rules every miner shares (skipReason in filter.ts, in
 * its order: empty question; answers all empty — `answers: []` is mined, filtered by positives
 * only: MS MARCO; no positive_ctxs), then a positive whose passage_id is not in the corpus. When
 * every record is skipped for that last reason the corpus is the wrong one: error.
 *
 * Example: dprep mine bm25 --examples squad.dpr.json --corpus squad.corpus.jsonl --out squad.bm25neg.json
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { DprRecord } from '../types.ts';
import type { AnalyzerConfig } from '../text/analyzer.ts';
import type { CorpusColumns } from '../io/corpus-columns.ts';
import { copyRecordLines, openRecordWriter, readDprRecords, recordFormatFromPath, type RecordFormat } from '../io/records.ts';
import { removeTemp, tempPathFor, writeFileAtomic } from '../io/atomic.ts';
import { BadRecords } from '../util/bad-records.ts';
import { unitOnBad } from '../util/units.ts';
import { assertReadableFile } from '../io/lines.ts';
import { buildOnce } from '../io/build-once.ts';
import { sha256File } from '../io/content-hash.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { Progress } from '../util/progress.ts';
import { recordedPath, recordedSummary, Summary } from '../util/summary.ts';
import { OrderedWindow } from '../util/ordered-window.ts';
import { addCounts, admitForMining, emptyCounts, normalizeForDedup, samplingKey, type FilterCounts, type ScoreMargins } from './filter.ts';
import type { MinerSettings } from './options.ts';
import { buildIndexFromCorpus } from '../search/bm25/builder.ts';
import { Bm25Index, readHeader } from '../search/bm25/index.ts';
import type { Bm25Header } from '../search/bm25/format.ts';
import { startBm25Pool } from '../search/bm25/pool.ts';
import { ScoreHistogram, type ScoreHistogramJson } from '../util/score-histogram.ts';
import { checkPositivesAgainstCorpus } from './positive-check.ts';
import { mineTask, toNegativeCtxs, type Bm25MineSettings, type MineJob, type MineResult } from './bm25-task.ts';

/**
 * The mining settings (`MinerSettings`: depth, negatives, strategy, seed, match, checkTitle), the
 * score margins (`maxScoreRatio`, `maxScoreMargin`: to the lowest BM25 score of the question's
 * positives, each scored directly, in the top k or not) plus I/O.
 */
export interface MineBm25Options extends MinerSettings, ScoreMargins {
  examples: string;
  /** Corpus file; needed unless `index` names an existing index. */
  corpus?: string;
  /** Layout of a headerless 3-column TSV corpus (`--columns`). */
  corpusColumns?: CorpusColumns;
  /** Index directory: used when it exists, built there (and kept) when it does not. */
  index?: string;
  out: string;
  format?: RecordFormat;
  threads: number;
  /** Analyzer and BM25 params for a new index; must agree with an existing index when given. */
  analyzer?: Partial<AnalyzerConfig>;
  /** What chose the analyzer's language (`dprep mine bm25 --lang auto`: the records' dataset ...), for the report. */
  languageFrom?: string;
  k1?: number;
  b?: number;
  /** Records per batch handed to a worker. */
  batchSize?: number;
  /**
   * Work-unit mode: mine only records [start, end) of the examples (0-based positions in the file),
   * and write the unit's report (`<out>.unit.json`, for mergeBm25Units) instead of `<out>.mining.json`.
   * An index built from the corpus is built once, at `opts.index` or else `indexDir`, for every unit.
   * Positions count good records only; a bad one (--skip-bad) is counted by one unit (ownsBadRecord).
   */
  unit?: { unit: number; start: number; end: number; indexDir: string };
  /** Leave out bad records and passages, counted by reason, instead of stopping (--skip-bad). */
  skipBad?: boolean;
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
  settings: Bm25MineSettings & { k1: number; b: number; analyzer: AnalyzerConfig; threads: number };
  /** What chose `settings.analyzer.lang` ("--lang", "dataset \"piaf\" of train.dpr.jsonl", an index's header ...). */
  languageFrom: string;
  records: ReturnType<Summary['toJSON']>;
  /** Records that got fewer negatives than asked. */
  short: number;
  filters: FilterCounts;
  /** BM25 scores of the positives, the kept negatives and the answer-bearing hits removed (`dprep eval report --mining` plots them). */
  scores: ScoreHistogramJson;
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
  await assertReadableFile(opts.examples);
  const indexExisted = opts.index !== undefined && existsSync(opts.index);
  const languageFrom = opts.languageFrom ?? (indexExisted ? `the header of index ${opts.index}` : opts.analyzer?.lang !== undefined ? 'the caller' : 'the default');
  // The output is opened before any index or worker exists: a bad extension or an unwritable path fails with nothing to close.
  const writer = await openRecordWriter(opts.out, recordFormatFromPath(opts.out, opts.format));
  const prepared = await prepareIndex(opts, log).catch(async (e) => (await writer.abort(), Promise.reject(e)));
  const { dir: indexDir, tempDir } = prepared;
  const index = Bm25Index.open(indexDir, { shared: opts.threads > 1 });
  const { depth, skipTop, negatives, strategy, seed, match, checkTitle, maxScoreRatio, maxScoreMargin } = opts;
  const settings: Bm25MineSettings = { depth, skipTop, negatives, strategy, seed, match, checkTitle, maxScoreRatio, maxScoreMargin };
  const pool = await startBm25Pool(index, opts.threads, mineTask(settings)).catch(async (e) => {
    await writer.abort();
    index.close();
    if (tempDir) await removeTemp(tempDir);
    throw e;
  });
  const summary = new Summary('mine bm25', [opts.examples, opts.corpus ?? indexDir]);
  const output = new MinedRecords(writer, index, summary, opts.negatives);
  const bad = new BadRecords(opts.skipBad, summary);
  const progress = new Progress('mine bm25', { unit: 'records' });
  let missingPositive = 0;
  let position = 0;
  const range = opts.unit;
  try {
    // Batches in flight, oldest first: written in input order whatever finishes first.
    const window = new OrderedWindow<MineResult[], Pending[]>(pool.threads * 2, async (mined, items) => {
      await output.write(items, mined);
      progress.tick(items.length);
    });
    const batchSize = opts.batchSize ?? 32;
    let items: Pending[] = [];
    let jobs: MineJob[] = [];
    // A unit counts only its own bad records (the others' units count theirs): merged counts add up to a whole run's.
    const onBad = unitOnBad(range, () => position, bad.onBad);
    for await (const { record, where } of readDprRecords(opts.examples, { onBad })) {
      const ordinal = position++;
      if (range && ordinal < range.start) continue;
      if (range && ordinal >= range.end) break;
      summary.read++;
      const answers = admitForMining(record, where, summary);
      if (!answers) continue;
      const positiveDocs = record.positive_ctxs.map((c) => index.docOf(c.passage_id));
      const missing = record.positive_ctxs.find((_, i) => positiveDocs[i] === undefined);
      if (missing) {
        missingPositive++;
        summary.skip('positive passage_id not in corpus', `${where} passage_id=${missing.passage_id}`);
        continue;
      }
      checkPositivesAgainstCorpus(record, where, opts.examples, opts.corpus ?? indexDir, (id) => {
        const doc = positiveDocs[record.positive_ctxs.findIndex((c) => c.passage_id === id)];
        return doc === undefined ? undefined : index.passage(doc);
      });
      items.push({ record, where });
      jobs.push(mineJob(index, record, answers, positiveDocs as number[], samplingKey(record, ordinal)));
      if (items.length < batchSize) continue;
      await window.push(pool.run(jobs), items);
      items = [];
      jobs = [];
    }
    if (items.length > 0) await window.push(pool.run(jobs), items);
    await window.drain();
    progress.finish();
    if (!range) checkPositivesFound(opts, summary.read, missingPositive, indexDir);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    await pool.close();
    index.close();
    if (tempDir) await removeTemp(tempDir);
  }
  const report = buildReport(opts, index.header, { ...settings, languageFrom }, pool.threads, summary, output);
  if (range) {
    const unit: UnitReport = { report, missingPositive };
    await writeFileAtomic(`${opts.out}.unit.json`, JSON.stringify(unit) + '\n');
    return report;
  }
  return writeReport(opts, report, summary, log);
}

/** What a work unit leaves for the merge besides its records: its part of the report. */
interface UnitReport {
  report: MiningReport;
  missingPositive: number;
}

/** Every record missing its positives means the wrong corpus: an error (checked over the whole examples, after the units too). */
function checkPositivesFound(opts: MineBm25Options, read: number, missingPositive: number, indexDir: string): void {
  if (read > 0 && missingPositive === read) {
    throw new InputError(opts.examples, undefined, 'positive_ctxs', `no record's positive passage_id is in the corpus (${opts.corpus ?? indexDir}): is it the corpus these records were made from?`);
  }
}

/**
 * Merges committed work units (their dirs in unit order, each with records.jsonl and
 * records.jsonl.unit.json from mineBm25 with `unit`) into `opts.out` and `<out>.mining.json`, through
 * the same writer and report as one whole run: the same bytes. Mines nothing again.
 * @example await mergeBm25Units(opts, ['runs/.neg.json.units/unit-00000-of-00002', 'runs/.neg.json.units/unit-00001-of-00002'])
 */
export async function mergeBm25Units(opts: MineBm25Options, dirs: readonly string[]): Promise<MiningReport> {
  const log = opts.log ?? (() => {});
  const parts: UnitReport[] = [];
  for (const dir of dirs) parts.push(readUnitPart(dir));
  const writer = await openRecordWriter(opts.out, recordFormatFromPath(opts.out, opts.format));
  const summary = Summary.merge(parts.map((p) => p.report.records));
  try {
    checkPositivesFound(opts, summary.read, parts.reduce((n, p) => n + p.missingPositive, 0), opts.index ?? '');
    for (const dir of dirs) await copyRecordLines(join(dir, UNIT_RECORDS), writer);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const filters = emptyCounts();
  for (const p of parts) addCounts(filters, p.report.filters);
  const first = parts[0].report;
  const report: MiningReport = {
    ...first,
    // What one whole run in this process would report (the pool's thread count).
    settings: { ...first.settings, threads: opts.threads <= 1 ? 1 : opts.threads },
    records: summary.toJSON(),
    short: parts.reduce((n, p) => n + p.report.short, 0),
    filters,
    scores: ScoreHistogram.merge(parts.map((p) => p.report.scores)),
    perRecord: parts.flatMap((p) => p.report.perRecord),
  };
  return writeReport(opts, report, summary, log);
}

const readUnitPart = (dir: string) => JSON.parse(readFileSync(join(dir, `${UNIT_RECORDS}.unit.json`), 'utf8')) as UnitReport;

/** The report part of a committed work unit (its dir). */
export const readUnitReport = (dir: string): MiningReport => readUnitPart(dir).report;

/** The records file of a mining work unit (JSON lines of DPR records, before the output format). */
export const UNIT_RECORDS = 'records.jsonl';

/** One record's job: its question as index terms, its answers and positives (ids, doc numbers, texts). */
function mineJob(index: Bm25Index, record: DprRecord, answers: string[], positiveDocs: number[], stream: string): MineJob {
  return {
    stream,
    query: index.toTermQuery(record.question.trim()),
    answers,
    positiveIds: record.positive_ctxs.map((c) => c.passage_id),
    positiveDocs,
    positiveTexts: record.positive_ctxs.map((c) => normalizeForDedup(c.text)),
  };
}

/** Writes mined records with their negatives, keeping the report's tallies. */
class MinedRecords {
  readonly totals = emptyCounts();
  readonly perRecord: PerRecordCounts[] = [];
  readonly scores = new ScoreHistogram();
  /** Records that got fewer negatives than asked. */
  short = 0;

  constructor(
    private readonly writer: Awaited<ReturnType<typeof openRecordWriter>>,
    private readonly index: Bm25Index,
    private readonly summary: Summary,
    private readonly negatives: number,
  ) {}

  async write(items: readonly Pending[], mined: readonly MineResult[]): Promise<void> {
    for (let i = 0; i < items.length; i++) {
      const { record, where } = items[i];
      const { counts } = mined[i];
      const negatives = toNegativeCtxs(this.index.store, mined[i]);
      await this.writer.write({ ...record, hard_negative_ctxs: negatives });
      this.summary.converted++;
      addCounts(this.totals, counts);
      this.scores.addQuestion({ positive: mined[i].positiveScores, negative: mined[i].scores, answer: mined[i].answerScores });
      this.perRecord.push({ record: where, ...counts });
      if (negatives.length < this.negatives) this.short++;
    }
  }
}

/**
 * The index to mine: `opts.index` when it exists (checked against the options), else one built
 * from `opts.corpus` (at `opts.index`, kept, or in a temp dir beside the output, removed after).
 */
export async function prepareIndex(opts: MineBm25Options, log: (m: string) => void): Promise<{ dir: string; tempDir?: string }> {
  if (opts.index && existsSync(opts.index)) {
    const header = checkIndexAgrees(opts.index, opts);
    if (opts.corpus && header.source) await checkIndexCorpus(opts.index, header.source, opts.corpus);
    return { dir: opts.index };
  }
  if (!opts.corpus) throw new UsageError(opts.index ? `index ${opts.index} does not exist and no --corpus was given to build it` : 'give --corpus (and optionally --index to keep the index)');
  if (opts.unit) {
    // Work units share one index of the whole corpus (idf is global), built by the first unit that gets there.
    const dir = opts.index ?? opts.unit.indexDir;
    const bad = new BadRecords(opts.skipBad);
    await buildOnce(dir, () => buildIndexFromCorpus(opts.corpus!, dir, { analyzer: opts.analyzer, k1: opts.k1, b: opts.b, threads: opts.threads > 1 ? opts.threads : 0, columns: opts.corpusColumns, onBad: bad.onBad }, log), { log });
    checkIndexAgrees(dir, opts);
    return { dir };
  }
  let dir = opts.index;
  let tempDir: string | undefined;
  if (!dir) {
    // Beside the output, not in /tmp: an index is about twice the corpus size.
    mkdirSync(dirname(resolve(opts.out)), { recursive: true });
    tempDir = tempPathFor(`${resolve(opts.out)}.bm25`);
    mkdirSync(tempDir);
    dir = join(tempDir, 'index');
  }
  try {
    const bad = new BadRecords(opts.skipBad);
    await buildIndexFromCorpus(opts.corpus, dir, { analyzer: opts.analyzer, k1: opts.k1, b: opts.b, threads: opts.threads > 1 ? opts.threads : 0, columns: opts.corpusColumns, onBad: bad.onBad }, log);
    if (opts.skipBad) log(`mine bm25: corpus ${opts.corpus}: ${bad.render('passages')}`);
  } catch (err) {
    if (tempDir) await removeTemp(tempDir);
    throw err;
  }
  return { dir, tempDir };
}

function buildReport(
  opts: MineBm25Options,
  header: Bm25Header,
  { languageFrom, ...settings }: Bm25MineSettings & { languageFrom: string },
  threads: number,
  summary: Summary,
  output: MinedRecords,
): MiningReport {
  return {
    examples: opts.examples,
    corpus: opts.corpus ?? null,
    index: opts.index ?? null,
    settings: { ...settings, k1: header.k1, b: header.b, analyzer: header.analyzer, threads },
    languageFrom,
    records: summary.toJSON(),
    short: output.short,
    filters: output.totals,
    scores: output.scores.toJSON(),
    perRecord: output.perRecord,
  };
}

async function writeReport(opts: MineBm25Options, report: MiningReport, summary: Summary, log: (m: string) => void): Promise<MiningReport> {
  const totals = report.filters;
  // Paths as summaries record them (src/util/summary.ts): never a pipeline's staging dir, the same in any workdir.
  const recorded = { ...report, examples: recordedPath(report.examples), corpus: report.corpus && recordedPath(report.corpus), index: report.index && recordedPath(report.index), records: recordedSummary(report.records) };
  await writeFileAtomic(`${opts.out}.mining.json`, JSON.stringify(recorded, null, 1) + '\n');
  log(summary.render());
  log(
    `  analyzer ${report.settings.analyzer.lang} (from ${report.languageFrom}); hits ${totals.hits}: positives ${totals.positive}, answer-bearing ${totals.answer}, ` +
      `skip-top ${totals.skipTop}, above the margin ${totals.margin}, duplicates ${totals.duplicate}; ` +
      `negatives kept ${totals.kept}; records with fewer than ${opts.negatives}: ${report.short}`,
  );
  return report;
}

/** An existing index given with --corpus must have been built from that corpus (by content: size, then sha256). */
async function checkIndexCorpus(dir: string, source: NonNullable<Bm25Header['source']>, corpus: string): Promise<void> {
  const bytes = statSync(corpus).size;
  const sha256 = bytes === source.bytes ? (await sha256File(corpus)).sha256 : undefined;
  if (sha256 !== source.sha256) {
    throw new UsageError(
      `index ${dir} was built from another corpus (${source.file}, ${source.bytes} bytes, sha256 ${source.sha256}) than --corpus ${corpus} (${bytes} bytes${sha256 ? `, sha256 ${sha256}` : ''}); ` +
        `rebuild it with "dprep index bm25 --corpus ${corpus} --out ${dir}", or leave out --corpus to mine the index's own passages`,
    );
  }
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
