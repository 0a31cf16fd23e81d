/**
 * The per-query search work that runs on a worker thread (or in-process with one thread). Jobs
 * and results are plain, structured-cloneable objects.
 */
import type { TermQuery, Bm25Scorer } from './scorer.ts';
import type { PassageIds } from './store.ts';

export interface SearchJob {
  query: TermQuery;
  k: number;
}

export interface SearchResult {
  passageIds: string[];
  scores: number[];
}

/** Runs search jobs against one scorer and store. */
export function runSearch(scorer: Bm25Scorer, pids: PassageIds, jobs: readonly SearchJob[]): SearchResult[] {
  return jobs.map((job) => {
    const top = scorer.topK(job.query, job.k);
    return { passageIds: Array.from(top.docs, (d) => pids.get(d)), scores: Array.from(top.scores) };
  });
}
