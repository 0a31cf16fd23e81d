/**
 * Runs BM25 search and mining batches on every core. The index is loaded once into
 * SharedArrayBuffers and handed to each worker without copying; p-queue bounds the batches in
 * flight to one per worker. With `threads <= 1` the same task code runs in-process.
 */
import { Worker } from 'node:worker_threads';
import PQueue from 'p-queue';
import type { Bm25Index } from './index.ts';
import { Bm25Scorer } from './scorer.ts';
import { runMine, runSearch, type MineJob, type MineResult, type MineSettings, type SearchJob, type SearchResult } from './tasks.ts';
import type { WorkerRequest } from './worker.ts';

export interface Bm25Runner {
  readonly threads: number;
  search(jobs: SearchJob[]): Promise<SearchResult[]>;
  mine(jobs: MineJob[]): Promise<MineResult[]>;
  close(): Promise<void>;
}

/**
 * A runner over `index` (opened with `{ shared: true }` when threads > 1).
 * @example
 * const runner = await startBm25Runner(Bm25Index.open(dir, { shared: true }), 4, settings);
 * const results = await runner.mine(jobs); await runner.close();
 */
export async function startBm25Runner(index: Bm25Index, threads: number, settings?: MineSettings): Promise<Bm25Runner> {
  if (threads <= 1) return localRunner(index, settings);
  return WorkerRunner.start(index, threads, settings);
}

function localRunner(index: Bm25Index, settings?: MineSettings): Bm25Runner {
  const scorer = new Bm25Scorer(index.arrays);
  return {
    threads: 1,
    search: async (jobs) => runSearch(scorer, index.pids, jobs),
    mine: async (jobs) => {
      if (!settings) throw new Error('bm25 runner: started without mining settings');
      return runMine(scorer, index.store, settings, jobs);
    },
    close: async () => {},
  };
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

class WorkerRunner implements Bm25Runner {
  private readonly idle: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure?: Error;

  private constructor(
    private readonly workers: Worker[],
    private readonly queue: PQueue,
  ) {
    this.idle.push(...workers);
  }

  get threads(): number {
    return this.workers.length;
  }

  static async start(index: Bm25Index, threads: number, settings?: MineSettings): Promise<WorkerRunner> {
    if (!(index.buffers.docs instanceof SharedArrayBuffer)) throw new Error('bm25 runner: open the index with { shared: true } to use worker threads');
    const workers = Array.from(
      { length: threads },
      () => new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { buffers: index.buffers, settings } }),
    );
    const runner = new WorkerRunner(workers, new PQueue({ concurrency: threads }));
    for (const w of workers) {
      w.on('message', (msg: { id: number; results?: unknown; error?: string }) => {
        const p = runner.pending.get(msg.id);
        if (!p) return;
        runner.pending.delete(msg.id);
        if (msg.error !== undefined) p.reject(new Error(`bm25 worker failed: ${msg.error}`));
        else p.resolve(msg.results);
      });
      w.on('error', (err) => runner.fail(err));
      w.on('exit', (code) => {
        if (code !== 0) runner.fail(new Error(`bm25 worker exited with code ${code}`));
      });
    }
    return runner;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private dispatch<T>(request: Omit<WorkerRequest, 'id'>): Promise<T> {
    return this.queue.add(async () => {
      if (this.failure) throw this.failure;
      const worker = this.idle.pop()!;
      const id = this.nextId++;
      try {
        return await new Promise<T>((resolve, reject) => {
          this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
          worker.postMessage({ ...request, id });
        });
      } finally {
        this.idle.push(worker);
      }
    }, { throwOnTimeout: true });
  }

  search(jobs: SearchJob[]): Promise<SearchResult[]> {
    return this.dispatch({ kind: 'search', jobs });
  }

  mine(jobs: MineJob[]): Promise<MineResult[]> {
    return this.dispatch({ kind: 'mine', jobs });
  }

  async close(): Promise<void> {
    await this.queue.onIdle();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
