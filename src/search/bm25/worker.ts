/**
 * Worker thread body: wraps the shared postings (no copy) and its own store handle, then answers
 * { id, kind, jobs } messages with { id, results } or { id, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { postingsFromBuffers, type SharedIndexBuffers } from './index.ts';
import { Bm25Scorer } from './scorer.ts';
import { PassageIds, PassageStore } from './store.ts';
import { FILES } from './format.ts';
import { runMine, runSearch, type MineJob, type MineSettings, type SearchJob } from './tasks.ts';

export type WorkerRequest = { id: number; kind: 'search'; jobs: SearchJob[] } | { id: number; kind: 'mine'; jobs: MineJob[] };

const { buffers, settings } = workerData as { buffers: SharedIndexBuffers; settings?: MineSettings };
const scorer = new Bm25Scorer(postingsFromBuffers(buffers));
const store = new PassageStore(join(buffers.dir, FILES.store), new Float64Array(buffers.storeOffsets));
const pids = new PassageIds(buffers.pids, new Float64Array(buffers.pidOffsets));

parentPort!.on('message', (msg: WorkerRequest) => {
  try {
    let results: unknown;
    if (msg.kind === 'search') results = runSearch(scorer, pids, msg.jobs);
    else {
      if (!settings) throw new Error('bm25 worker: mine job without mining settings');
      results = runMine(scorer, store, settings, msg.jobs);
    }
    parentPort!.postMessage({ id: msg.id, results });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
