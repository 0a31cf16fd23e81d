/**
 * Worker threads, started one way and spoken to one way.
 *
 * Start-up: dprep runs TypeScript through tsx with no build step, and Node 20 ignores
 * `--import tsx` in a worker's execArgv, so every worker starts from a one-line script that
 * registers tsx's loader (resolved from this file, so any cwd works) and then imports the
 * worker's .ts file.
 *
 * Requests: a WorkerPool posts `{ id, body }`; the worker (`serveRequests`) answers
 * `{ id, result }` or `{ id, error }`. A worker that crashes or exits fails every pending request
 * and every later one with that error, so a caller never waits on a dead thread.
 */
import { parentPort, Worker, type TransferListItem, type WorkerOptions } from 'node:worker_threads';
import PQueue from 'p-queue';

/**
 * Starts the TypeScript worker file `file` (a URL, e.g. `new URL('./worker.ts', import.meta.url)`).
 * @example const w = startTsWorker(new URL('./exact-worker.ts', import.meta.url), { workerData });
 */
export function startTsWorker(file: URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const script = `import(${api}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); })`;
  return new Worker(script, { ...options, eval: true });
}

interface Request<B> {
  id: number;
  body: B;
}
type Reply<R> = { id: number; result: R; error?: undefined } | { id: number; error: string };

/**
 * Worker side of a WorkerPool: answers each request with `handle(body)`, in arrival order;
 * `transferOf` names the result's buffers to move rather than copy.
 * @example serveRequests((jobs: SearchJob[]) => runSearch(parts, jobs));
 */
export function serveRequests<B, R>(handle: (body: B) => R, transferOf?: (result: R) => TransferListItem[]): void {
  const port = parentPort;
  if (!port) throw new Error('serveRequests: not running in a worker thread');
  port.on('message', (msg: Request<B>) => {
    let reply: Reply<R>;
    let transfer: TransferListItem[] = [];
    try {
      const result = handle(msg.body);
      reply = { id: msg.id, result };
      if (transferOf) transfer = transferOf(result);
    } catch (err) {
      reply = { id: msg.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
    port.postMessage(reply, transfer);
  });
}

/**
 * `size` workers running `file`, each answering requests with serveRequests. `run` hands a body
 * to any idle worker (p-queue bounds the requests in flight to one per worker); `send` posts to
 * one chosen worker, whose requests are answered in the order sent (for workers with state).
 * @example
 * const pool = WorkerPool.start<Job[], Res[]>('bm25 worker', url, 4, { buffers });
 * const results = await pool.run(jobs); await pool.close();
 */
export class WorkerPool<B, R> {
  private readonly pending = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  private readonly idle: number[];
  private readonly queue: PQueue;
  private nextId = 0;
  private failure?: Error;
  private closing = false;

  private constructor(
    private readonly name: string,
    private readonly workers: Worker[],
  ) {
    this.idle = workers.map((_, i) => i);
    this.queue = new PQueue({ concurrency: workers.length });
    for (const w of workers) {
      w.on('message', (msg: Reply<R>) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error !== undefined) p.reject(new Error(`${name} failed: ${msg.error}`));
        else p.resolve(msg.result);
      });
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => {
        if (code !== 0 && !this.closing) this.fail(new Error(`${name} exited with code ${code}`));
      });
    }
  }

  /** Starts `size` workers of `file`, each given `workerData`. */
  static start<B, R>(name: string, file: URL, size: number, workerData?: unknown): WorkerPool<B, R> {
    const workers = Array.from({ length: size }, () => startTsWorker(file, { workerData }));
    return new WorkerPool<B, R>(name, workers);
  }

  get size(): number {
    return this.workers.length;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Posts `body` to worker `worker`; resolves with its reply. */
  send(worker: number, body: B, transfer: TransferListItem[] = []): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.workers[worker].postMessage({ id, body } satisfies Request<B>, transfer);
    });
  }

  /** Runs `body` on the next idle worker. */
  run(body: B, transfer: TransferListItem[] = []): Promise<R> {
    return this.queue.add(
      async () => {
        const worker = this.idle.pop()!;
        try {
          return await this.send(worker, body, transfer);
        } finally {
          this.idle.push(worker);
        }
      },
      { throwOnTimeout: true },
    );
  }

  /** Waits for queued requests, then stops every worker. */
  async close(): Promise<void> {
    await this.queue.onIdle();
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
