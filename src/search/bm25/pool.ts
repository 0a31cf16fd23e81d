/**
 * Runs batches of BM25 jobs on every core. The index is loaded once into SharedArrayBuffers and
 * handed to each worker without copying; the pool keeps one batch in flight per worker. With
 * `threads <= 1` the same task code runs in-process.
 *
 * A task is a function of the index parts, its settings and a batch of jobs, plus the worker file
 * that serves the same function (`serveBm25Task`); search is one task (tasks.ts), and a caller
 * above this layer (mining) brings its own.
 */
import type { Bm25Index } from './index.ts';
import { Bm25Scorer } from './scorer.ts';
import { runSearch, type SearchJob, type SearchResult } from './tasks.ts';
import { WorkerPool } from '../../util/workers.ts';
import type { IndexParts } from './worker.ts';

/** A batch function over the index, and the worker file that runs it (it calls serveBm25Task(run)). */
export interface Bm25Task<S, J, R> {
  /** Names the workers in error messages. */
  name: string;
  worker: URL;
  settings: S;
  run(parts: IndexParts, settings: S, jobs: readonly J[]): R[];
}

export interface Bm25Pool<J, R> {
  readonly threads: number;
  run(jobs: J[]): Promise<R[]>;
  close(): Promise<void>;
}

/**
 * A pool running `task` over `index` (opened with `{ shared: true }` when threads > 1).
 * @example
 * const pool = await startBm25Pool(Bm25Index.open(dir, { shared: true }), 4, task);
 * const results = await pool.run(jobs); await pool.close();
 */
export async function startBm25Pool<S, J, R>(index: Bm25Index, threads: number, task: Bm25Task<S, J, R>): Promise<Bm25Pool<J, R>> {
  if (threads <= 1) {
    const parts: IndexParts = { scorer: new Bm25Scorer(index.arrays), store: index.store, pids: index.pids };
    return { threads: 1, run: async (jobs) => task.run(parts, task.settings, jobs), close: async () => {} };
  }
  if (!(index.buffers.docs instanceof SharedArrayBuffer)) throw new Error('bm25 runner: open the index with { shared: true } to use worker threads');
  const pool = WorkerPool.start<J[], R[]>(task.name, task.worker, threads, { buffers: index.buffers, settings: task.settings });
  return { threads, run: (jobs) => pool.run(jobs), close: () => pool.close() };
}

/** Top-k search on the pool. */
export interface Bm25Runner {
  readonly threads: number;
  search(jobs: SearchJob[]): Promise<SearchResult[]>;
  close(): Promise<void>;
}

export const SEARCH_TASK: Bm25Task<undefined, SearchJob, SearchResult> = {
  name: 'bm25 worker',
  worker: new URL('./search-worker.ts', import.meta.url),
  settings: undefined,
  run: (parts, _settings, jobs) => runSearch(parts.scorer, parts.pids, jobs),
};

/**
 * A search runner over `index` (opened with `{ shared: true }` when threads > 1).
 * @example const runner = await startBm25Runner(index, 4); const hits = await runner.search(jobs);
 */
export async function startBm25Runner(index: Bm25Index, threads: number): Promise<Bm25Runner> {
  const pool = await startBm25Pool(index, threads, SEARCH_TASK);
  return { threads: pool.threads, search: (jobs) => pool.run(jobs), close: () => pool.close() };
}
