/**
 * BM25 mining's per-query work, run by the BM25 pool on a worker thread (or in-process with one
 * thread): search, fetch the hits' passages from the store, filter and sample negatives.
 * Everything a job needs travels in plain, structured-cloneable objects; randomness is derived
 * from (seed, the record's sampling key: its id, else its position in the examples file), so results do not depend on which thread ran them.
 */
import type { Ctx } from '../types.ts';
import { AnswerMatcher } from '../text/answer.ts';
import { marginCeiling, selectNegatives, type FilterCounts, type Hit, type ScoreMargins } from './filter.ts';
import type { MinerSettings } from './options.ts';
import { deriveSeed, seededRandom } from '../util/random.ts';
import type { TermQuery } from '../search/bm25/scorer.ts';
import type { PassageStore } from '../search/bm25/store.ts';
import type { IndexParts } from '../search/bm25/worker.ts';
import type { Bm25Task } from '../search/bm25/pool.ts';

export interface MineJob {
  /** The key of the record's random stream (samplingKey: its id, else its position in the examples file). */
  stream: string;
  query: TermQuery;
  answers: string[];
  positiveIds: string[];
  /** Doc numbers of the positives in the index: scored directly for the margins. */
  positiveDocs: number[];
  /** normalizeForDedup() of each positive's text. */
  positiveTexts: string[];
}

/**
 * Negatives as doc numbers and BM25 scores, best first. Kept compact on purpose: copying whole
 * passages back from a worker cost as much as mining them; the caller reads them from its store.
 */
export interface MineResult {
  docs: number[];
  scores: number[];
  counts: FilterCounts;
  /** BM25 score of each positive (scored directly, in the top k or not) and of each answer-bearing hit removed: the summary's histogram. */
  positiveScores: number[];
  answerScores: number[];
}

/** What a mining worker is given: the shared miner settings and the score margins. */
export type Bm25MineSettings = MinerSettings & ScoreMargins;

/** A mined result as DPR ctxs, passages read from `store`. */
export function toNegativeCtxs(store: PassageStore, result: MineResult): Ctx[] {
  return result.docs.map((doc, i) => {
    const p = store.get(doc);
    return { title: p.title, text: p.text, score: result.scores[i], passage_id: p.passage_id };
  });
}

/**
 * Runs mining jobs: top `depth` BM25 hits → selectNegatives (rank window from skipTop; margin
 * ceiling from every positive's own BM25 score, top-k or not) → doc numbers with score = BM25 score.
 */
export function runMine({ scorer, store }: IndexParts, settings: Bm25MineSettings, jobs: readonly MineJob[]): MineResult[] {
  const margins = settings.maxScoreRatio !== undefined || settings.maxScoreMargin !== undefined;
  return jobs.map((job) => {
    const top = scorer.topK(job.query, settings.depth);
    const positiveScores = Array.from(scorer.scoreDocs(job.query, job.positiveDocs));
    const maxScore = margins ? marginCeiling(positiveScores, settings) : undefined;
    const hits: Hit[] = Array.from(top.docs, (doc, rank) => ({ passage: store.get(doc), score: top.scores[rank], rank }));
    const { negatives, counts, answerScores } = selectNegatives(hits, {
      matcher: new AnswerMatcher(job.answers, settings.match),
      checkTitle: settings.checkTitle,
      positiveIds: new Set(job.positiveIds),
      positiveTexts: new Set(job.positiveTexts),
      count: settings.negatives,
      strategy: settings.strategy,
      skipTop: settings.skipTop,
      maxScore,
      rng: seededRandom(deriveSeed(settings.seed, 'mine.bm25', job.stream)),
    });
    return { docs: negatives.map((h) => top.docs[h.rank]), scores: negatives.map((h) => h.score), counts, positiveScores, answerScores };
  });
}

/** The mining task for startBm25Pool. */
export const mineTask = (settings: Bm25MineSettings): Bm25Task<Bm25MineSettings, MineJob, MineResult> => ({
  name: 'bm25 mining worker',
  worker: new URL('./bm25-worker.ts', import.meta.url),
  settings,
  run: runMine,
});
