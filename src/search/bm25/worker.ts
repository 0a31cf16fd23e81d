/**
 * Worker side of a BM25 pool: wraps the shared postings (no copy) and opens its own store handle,
 * then answers each batch of jobs with the task's function.
 */
import { workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { postingsFromBuffers, type SharedIndexBuffers } from './index.ts';
import { Bm25Scorer } from './scorer.ts';
import { PassageIds, PassageStore } from './store.ts';
import { FILES } from './format.ts';
import { serveRequests } from '../../util/workers.ts';

/** What a task reads: the scorer over the postings, the passage store and the passage ids. */
export interface IndexParts {
  scorer: Bm25Scorer;
  store: PassageStore;
  pids: PassageIds;
}

/**
 * Serves `run` in this worker thread (the pool's workerData carries the buffers and settings).
 * @example serveBm25Task(SEARCH_TASK.run);
 */
export function serveBm25Task<S, J, R>(run: (parts: IndexParts, settings: S, jobs: readonly J[]) => R[]): void {
  const { buffers, settings } = workerData as { buffers: SharedIndexBuffers; settings: S };
  const parts: IndexParts = {
    scorer: new Bm25Scorer(postingsFromBuffers(buffers)),
    store: new PassageStore(join(buffers.dir, FILES.store), new Float64Array(buffers.storeOffsets)),
    pids: new PassageIds(buffers.pids, new Float64Array(buffers.pidOffsets)),
  };
  serveRequests((jobs: J[]) => run(parts, settings, jobs));
}
