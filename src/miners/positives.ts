/**
 * Positives for QA pairs that have none (NQ-open, DPR qa csv, TriviaQA, WebQuestions,
 * CuratedTREC), by DPR's recipe: search the question in a corpus with BM25, take the
 * highest-ranked passage(s) of the top `depth` that contain an answer (DPR has_answer, string or
 * regex mode) as positive_ctxs, and the rest of the top `depth` — answer-free, deduplicated, by
 * the shared negative filter — as hard_negative_ctxs. DPR (Karpukhin et al. 2020, §4.1) used
 * exactly one positive, the highest-ranked BM25 passage containing the answer, and discarded a
 * question when none of the top 100 did; here that question is counted and, with `unfoundOut`,
 * written there unchanged rather than lost.
 *
 * Input: DPR records (JSON array, JSON lines or Parquet); a corpus (or a BM25 index). Records that
 * already have positive_ctxs are written unchanged (counted). Skipped and counted: empty question,
 * no non-empty answer. Output: records in input order; score = the BM25 score. Summary:
 * `<out>.summary.json`.
 *
 * Example: dprep mine positives --examples nq-open.dpr.jsonl --corpus psgs_w100.tsv --out nq.pos.jsonl --depth 100
 */
import type { Ctx, DprRecord } from '../types.ts';
import { AnswerMatcher, isEmptyAnswer } from '../text/answer.ts';
import { openRecordWriter, readDprRecords, type RecordFormat } from '../io/records.ts';
import { assertReadableFile } from '../io/lines.ts';
import { rmSync } from 'node:fs';
import { Progress } from '../util/progress.ts';
import { Summary } from '../util/summary.ts';
import { OrderedWindow } from '../util/ordered-window.ts';
import { deriveSeed, seededRandom } from '../util/random.ts';
import { addCounts, emptyCounts, normalizeForDedup, selectNegatives, type FilterCounts, type Hit } from './filter.ts';
import type { MinerSettings } from './options.ts';
import { prepareIndex, type MineBm25Options } from './bm25.ts';
import { checkPositivesAgainstCorpus } from './positive-check.ts';
import { Bm25Index } from '../search/bm25/index.ts';
import { startBm25Pool, type Bm25Task } from '../search/bm25/pool.ts';
import type { TermQuery } from '../search/bm25/scorer.ts';
import type { IndexParts } from '../search/bm25/worker.ts';
import type { PassageStore } from '../search/bm25/store.ts';
import { BadRecords } from '../util/bad-records.ts';

/** The mining settings plus how many answer-bearing hits become positives (DPR: 1). */
export interface PositiveSettings extends MinerSettings {
  positives: number;
}

/** `mineBm25`'s I/O options (corpus or index, analyzer, threads) with the positive settings. */
export type MinePositivesOptions = Omit<MineBm25Options, keyof MinerSettings> &
  PositiveSettings & {
    /** Records for which no answer-bearing passage was found, written here unchanged. */
    unfoundOut?: string;
  };

interface PositivesJob {
  ordinal: number;
  query: TermQuery;
  answers: string[];
}

/** Doc numbers and BM25 scores, best first (passages are read back from the caller's store). */
interface PositivesResult {
  positiveDocs: number[];
  positiveScores: number[];
  docs: number[];
  scores: number[];
  counts: FilterCounts;
}

const NOTE = {
  found: 'positives found (answer-bearing BM25 hits)',
  unused: 'answer-bearing hits beyond --positives (neither positive nor negative)',
  kept: 'records that already had positive_ctxs: written unchanged',
  unfoundWritten: 'records without an answer-bearing hit, written to the unfound output',
} as const;
const NOT_FOUND = 'no passage containing an answer in the top --depth BM25 hits';

/** One batch of jobs on the index: top `depth` hits → positives (first answer-bearing) → negatives. */
export function runPositives({ scorer, store }: IndexParts, settings: PositiveSettings, jobs: readonly PositivesJob[]): PositivesResult[] {
  return jobs.map((job) => {
    const top = scorer.topK(job.query, settings.depth);
    const hits: Hit[] = Array.from(top.docs, (doc, rank) => ({ passage: store.get(doc), score: top.scores[rank], rank }));
    const matcher = new AnswerMatcher(job.answers, settings.match);
    // DPR's has_answer on the passage text: the positive must hold the answer itself, not only its title.
    const positives = hits.filter((h) => matcher.matches(h.passage.text)).slice(0, settings.positives);
    const { negatives, counts } = selectNegatives(hits, {
      matcher,
      checkTitle: settings.checkTitle,
      positiveIds: new Set(positives.map((h) => h.passage.passage_id)),
      positiveTexts: new Set(positives.map((h) => normalizeForDedup(h.passage.text))),
      count: settings.negatives,
      strategy: settings.strategy,
      rng: seededRandom(deriveSeed(settings.seed, 'mine.positives', job.ordinal)),
    });
    return {
      positiveDocs: positives.map((h) => top.docs[h.rank]),
      positiveScores: positives.map((h) => h.score),
      docs: negatives.map((h) => top.docs[h.rank]),
      scores: negatives.map((h) => h.score),
      counts,
    };
  });
}

const positivesTask = (settings: PositiveSettings): Bm25Task<PositiveSettings, PositivesJob, PositivesResult> => ({
  name: 'bm25 positives worker',
  worker: new URL('./positives-worker.ts', import.meta.url),
  settings,
  run: runPositives,
});

function ctxs(store: PassageStore, docs: readonly number[], scores: readonly number[]): Ctx[] {
  return docs.map((doc, i) => {
    const p = store.get(doc);
    return { title: p.title, text: p.text, score: scores[i], passage_id: p.passage_id };
  });
}

interface Pending {
  record: DprRecord;
  where: string;
  /** Null for a record written unchanged (it already had positives). */
  job: PositivesJob | null;
}

export interface PositivesReport {
  summary: Summary;
  /** What the negative filter removed, summed over the records searched. */
  filters: FilterCounts;
  /** Records that got fewer negatives than asked. */
  short: number;
}

/**
 * Finds positives (and hard negatives) for the records of `examples` without positive_ctxs.
 * @example
 * const { summary } = await minePositives({ examples: 'nq-open.dpr.jsonl', corpus: 'psgs.tsv', out: 'nq.pos.jsonl',
 *   depth: 100, positives: 1, negatives: 30, strategy: 'top', seed: 13, match: 'string', checkTitle: false, threads: 2 });
 */
export async function minePositives(opts: MinePositivesOptions): Promise<PositivesReport> {
  const log = opts.log ?? (() => {});
  await assertReadableFile(opts.examples);
  const { depth, negatives, strategy, seed, match, checkTitle, positives } = opts;
  const settings: PositiveSettings = { depth, negatives, strategy, seed, match, checkTitle, positives };
  const { dir: indexDir, tempDir } = await prepareIndex(opts, log);
  const index = Bm25Index.open(indexDir, { shared: opts.threads > 1 });
  const pool = await startBm25Pool(index, opts.threads, positivesTask(settings));
  const summary = new Summary('mine positives', [opts.examples, opts.corpus ?? indexDir]);
  const writer = await openRecordWriter(opts.out, opts.format as RecordFormat | undefined);
  const unfound = opts.unfoundOut ? await openRecordWriter(opts.unfoundOut) : undefined;
  const filters = emptyCounts();
  let short = 0;
  const progress = new Progress('mine positives', { unit: 'records' });
  const write = async (items: readonly Pending[], results: readonly PositivesResult[]) => {
    let r = 0;
    for (const { record, where, job } of items) {
      if (!job) {
        await writer.write(record);
        summary.converted++;
        continue;
      }
      const res = results[r++];
      if (res.positiveDocs.length === 0) {
        summary.skip(NOT_FOUND, where);
        if (unfound) {
          await unfound.write(record);
          summary.count(NOTE.unfoundWritten);
        }
        continue;
      }
      summary.count(NOTE.found, res.positiveDocs.length);
      summary.count(NOTE.unused, res.counts.answer);
      addCounts(filters, res.counts);
      if (res.docs.length < negatives) short++;
      await writer.write({ ...record, positive_ctxs: ctxs(index.store, res.positiveDocs, res.positiveScores), hard_negative_ctxs: ctxs(index.store, res.docs, res.scores) });
      summary.converted++;
    }
    progress.tick(items.length);
  };
  try {
    // Batches in flight, oldest first: records are written in input order whatever finishes first.
    const window = new OrderedWindow<PositivesResult[], Pending[]>(pool.threads * 2, (results, items) => write(items, results));
    const batchSize = opts.batchSize ?? 32;
    let items: Pending[] = [];
    let jobs: PositivesJob[] = [];
    const flush = async () => {
      await window.push(jobs.length > 0 ? pool.run(jobs) : Promise.resolve([]), items);
      items = [];
      jobs = [];
    };
    const bad = new BadRecords(opts.skipBad, summary);
    for await (const { record, where } of readDprRecords(opts.examples, { onBad: bad.onBad })) {
      const ordinal = summary.read++;
      if (record.positive_ctxs.length > 0) {
        checkPositivesAgainstCorpus(record, where, opts.examples, opts.corpus ?? indexDir, (id) => {
          const doc = index.docOf(id);
          return doc === undefined ? undefined : index.passage(doc);
        });
        summary.count(NOTE.kept);
        items.push({ record, where, job: null });
      } else {
        const reason = record.question.trim() === '' ? 'empty question' : record.answers.every(isEmptyAnswer) ? 'no non-empty answer (nothing to look for)' : undefined;
        if (reason) {
          summary.skip(reason, where);
          continue;
        }
        const job = { ordinal, query: index.toTermQuery(record.question.trim()), answers: record.answers.filter((a) => !isEmptyAnswer(a)) };
        items.push({ record, where, job });
        jobs.push(job);
      }
      if (items.length >= batchSize) await flush();
    }
    if (items.length > 0) await flush();
    await window.drain();
    progress.finish();
    await writer.close();
    await unfound?.close();
  } catch (err) {
    await writer.abort();
    await unfound?.abort();
    throw err;
  } finally {
    await pool.close();
    index.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
  log(summary.render());
  log(`  hits ${filters.hits}: used as positives ${filters.positive}, other answer-bearing ${filters.answer}, duplicates ${filters.duplicate}; negatives kept ${filters.kept}; records with fewer than ${negatives}: ${short}`);
  return { summary, filters, short };
}
