/**
 * The per-query work that runs on a worker thread (or in-process with one thread): search, fetch
 * the hits' passages from the store, and, for mining, filter and sample negatives. Everything a
 * task needs travels in plain, structured-cloneable objects; randomness is derived from
 * (seed, record ordinal), so results do not depend on which thread ran them.
 */
import type { Ctx, MatchMode } from '../../types.ts';
import { AnswerMatcher } from '../../text/answer.ts';
import { selectNegatives, type FilterCounts, type Hit, type SamplingStrategy } from '../../miners/filter.ts';
import { deriveSeed, seededRandom } from '../../util/random.ts';
import type { TermQuery, Bm25Scorer } from './scorer.ts';
import type { PassageIds, PassageStore } from './store.ts';

export interface SearchJob {
  query: TermQuery;
  k: number;
}

export interface SearchResult {
  passageIds: string[];
  scores: number[];
}

/** Mining settings shared by every job of a run. */
export interface MineSettings {
  depth: number;
  negatives: number;
  strategy: SamplingStrategy;
  seed: number;
  match: MatchMode;
  checkTitle: boolean;
}

export interface MineJob {
  /** Ordinal of the record in the examples file: the key of its random stream. */
  ordinal: number;
  query: TermQuery;
  answers: string[];
  positiveIds: string[];
  /** normalizeForDedup() of each positive's text. */
  positiveTexts: string[];
}

export interface MineResult {
  negatives: Ctx[];
  counts: FilterCounts;
}

/** Runs search jobs against one scorer and store. */
export function runSearch(scorer: Bm25Scorer, pids: PassageIds, jobs: readonly SearchJob[]): SearchResult[] {
  return jobs.map((job) => {
    const top = scorer.topK(job.query, job.k);
    return { passageIds: Array.from(top.docs, (d) => pids.get(d)), scores: Array.from(top.scores) };
  });
}

/** Runs mining jobs: top `depth` BM25 hits → selectNegatives → DPR ctxs with score = BM25 score. */
export function runMine(scorer: Bm25Scorer, store: PassageStore, settings: MineSettings, jobs: readonly MineJob[]): MineResult[] {
  return jobs.map((job) => {
    const top = scorer.topK(job.query, settings.depth);
    const hits: Hit[] = Array.from(top.docs, (doc, rank) => ({ passage: store.get(doc), score: top.scores[rank], rank }));
    const { negatives, counts } = selectNegatives(hits, {
      matcher: new AnswerMatcher(job.answers, settings.match),
      checkTitle: settings.checkTitle,
      positiveIds: new Set(job.positiveIds),
      positiveTexts: new Set(job.positiveTexts),
      count: settings.negatives,
      strategy: settings.strategy,
      rng: seededRandom(deriveSeed(settings.seed, 'mine.bm25', job.ordinal)),
    });
    return {
      negatives: negatives.map((h) => ({ title: h.passage.title, text: h.passage.text, score: h.score, passage_id: h.passage.passage_id })),
      counts,
    };
  });
}
