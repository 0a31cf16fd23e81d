/**
 * Data-parallel training over worker-thread replicas. tfjs runs one backend per thread, and on the
 * wasm and cpu backends a step is a long chain of small kernels that intra-op threads barely speed
 * up (bench/BENCHMARKS.md); whole replicas on separate cores do.
 *
 * Each step, the batch's questions are cut into one contiguous shard per replica (passages follow
 * their questions). Two ways to get the whole batch's gradient, decided per step:
 * - every shard fits one micro-batch (`--batch-size`): each replica embeds its shard on the tape,
 *   the replicas swap embeddings through shared memory (EmbeddingExchange), and each back-propagates
 *   the loss over the whole batch into its own shard — one forward and one backward per shard;
 * - otherwise (GradCache): replicas embed their micro-batches without a tape, this thread takes the
 *   loss and its gradient w.r.t. every embedding, and the replicas back-propagate their rows.
 * The replicas' gradients are summed here in replica order, so a run is reproducible for a given
 * replica count (which is part of the run's identity: another count sums in another order).
 *
 * The master weights live in one SharedArrayBuffer: the optimizer updates them in place and the
 * replicas copy them into their variables at the next step, without messages.
 */
import type { Worker } from 'node:worker_threads';
import type { TF, BackendName } from './backend.ts';
import type { BiEncoder, BiEncoderOptions, MicroBatch } from './biencoder.ts';
import type { BertConfig } from './config.ts';
import type { BiEncoderBatch } from './data.ts';
import { dprLossAndEmbeddingGrads } from './loss.ts';
import type { NamedTensor } from './safetensors.ts';
import { EmbeddingExchange } from './exchange.ts';
import { loadNative } from './native.ts';
import { deriveSeed } from '../util/random.ts';
import { startTsWorker } from '../util/workers.ts';

export interface ReplicaInit {
  backend: BackendName;
  configs: { query: BertConfig; passage: BertConfig };
  tensors: { query: [string, NamedTensor][]; passage: [string, NamedTensor][] };
  options: BiEncoderOptions;
  /**
   * Master weights (`buffer`) and this replica's gradients (`grads`), both laid out as `layout`:
   * rows of [param key, float offset, float length].
   */
  params: { buffer: SharedArrayBuffer; grads: SharedArrayBuffer; layout: [string, number, number][] };
}

interface RequestBase {
  id: number;
  /** Copy the master weights into the replica's variables first. */
  assign: boolean;
}
export type ReplicaRequest = RequestBase &
  (
    | { type: 'exchange'; mb: MicroBatch; positiveIndex: number[]; masked?: number[]; at: { q0: number; p0: number }; buffer: SharedArrayBuffer; rows: number; dim: number; parties: number; seed: number }
    | { type: 'embed'; mbs: MicroBatch[]; seeds: number[] }
    | { type: 'backprop'; mbs: MicroBatch[]; seeds: number[]; dq: Float32Array; dp: Float32Array }
  );
type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;

interface Reply {
  id: number;
  error?: string;
  loss?: number;
  /** Keys whose gradients the replica wrote into its shared gradient buffer. */
  keys?: string[];
  q?: Float32Array;
  p?: Float32Array;
}

/** Copies `params` into one SharedArrayBuffer and returns views on it (same keys) and the layout. */
export function shareWeights(params: Map<string, Float32Array>): { views: Map<string, Float32Array>; buffer: SharedArrayBuffer; layout: [string, number, number][] } {
  const total = [...params.values()].reduce((n, a) => n + a.length, 0);
  const buffer = new SharedArrayBuffer(4 * total);
  const views = new Map<string, Float32Array>();
  const layout: [string, number, number][] = [];
  let offset = 0;
  for (const [key, data] of params) {
    const view = new Float32Array(buffer, 4 * offset, data.length);
    view.set(data);
    views.set(key, view);
    layout.push([key, offset, data.length]);
    offset += data.length;
  }
  return { views, buffer, layout };
}

/** Views of `buffer` by key, as laid out by shareWeights. */
export function viewsOf(buffer: SharedArrayBuffer, layout: [string, number, number][]): Map<string, Float32Array> {
  return new Map(layout.map(([key, offset, length]) => [key, new Float32Array(buffer, 4 * offset, length)]));
}

/**
 * All replies, or the failure that caused the others: a replica woken by another's abort reports
 * only that, so its error is reported last.
 */
async function settle(requests: Promise<Reply>[]): Promise<Reply[]> {
  const results = await Promise.allSettled(requests);
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (errors.length > 0) throw errors.find((e) => !/another trainer replica failed/.test(String(e?.message))) ?? errors[0];
  return results.map((r) => (r as PromiseFulfilledResult<Reply>).value);
}

class Replica {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private failure?: Error;
  readonly ready: Promise<void>;

  constructor(
    readonly rank: number,
    readonly worker: Worker,
    /** This replica's gradient buffer, by key. */
    readonly grads: Map<string, Float32Array>,
    onFailure: (err: Error) => void,
  ) {
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => ((readyResolve = res), (readyReject = rej)));
    const fail = (err: Error) => {
      if (this.failure) return;
      this.failure = err;
      readyReject(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      onFailure(err);
    };
    worker.on('message', (msg: Reply & { ready?: boolean }) => {
      if (msg.ready) return readyResolve();
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`trainer replica ${rank}: ${msg.error}`));
      else p.resolve(msg);
    });
    worker.on('error', (err) => fail(new Error(`trainer replica ${rank} failed: ${err.message}`)));
    worker.on('exit', (code) => fail(new Error(`trainer replica ${rank} exited (code ${code})`)));
  }

  request(req: DistributiveOmit<ReplicaRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }
}

export class ReplicaPool {
  private current?: EmbeddingExchange;
  private closed = false;
  /** Master weights changed since the replicas last copied them. */
  private stale = true;
  /** Where the last step's time went (this thread's view), for benchmarks. */
  timings = { tokenizeMs: 0, replicasMs: 0, reduceMs: 0 };
  private stepStart = 0;

  private constructor(
    private readonly tf: TF,
    private readonly replicas: Replica[],
  ) {}

  /**
   * Starts `count` replicas of `model`'s architecture with the weights in `tensors` (HF layout).
   * Returns the pool and the master weights moved to shared memory: update those in place.
   */
  static async start(
    tf: TF,
    count: number,
    init: Omit<ReplicaInit, 'params' | 'tensors'> & { tensors: { query: Map<string, NamedTensor>; passage: Map<string, NamedTensor> }; master: Map<string, Float32Array> },
  ): Promise<{ pool: ReplicaPool; master: Map<string, Float32Array> }> {
    const { views, buffer, layout } = shareWeights(init.master);
    // One OpenBLAS thread per call (the setting is process-wide): the replicas already fill the cores.
    loadNative()?.kernels.setThreads(1);
    let pool: ReplicaPool | undefined;
    const replicas = Array.from({ length: count }, (_, rank) => {
      const grads = new SharedArrayBuffer(buffer.byteLength);
      const workerData: ReplicaInit = {
        backend: init.backend,
        configs: init.configs,
        options: init.options,
        tensors: { query: [...init.tensors.query], passage: [...init.tensors.passage] },
        params: { buffer, grads, layout },
      };
      const worker = startTsWorker(new URL('./replica-worker.ts', import.meta.url), { workerData });
      return new Replica(rank, worker, viewsOf(grads, layout), () => pool?.abortStep());
    });
    pool = new ReplicaPool(tf, replicas);
    try {
      await Promise.all(replicas.map((r) => r.ready));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return { pool, master: views };
  }

  get size(): number {
    return this.replicas.length;
  }

  /** Call after the optimizer changed the master weights. */
  weightsChanged(): void {
    this.stale = true;
  }

  private abortStep(): void {
    this.current?.abort();
  }

  /**
   * Loss and summed gradients (by param key) of one batch, sharded over the replicas; `model`
   * (this thread's copy) tokenizes. Same contract as BiEncoder.lossAndGrads.
   */
  async lossAndGrads(model: BiEncoder, batch: BiEncoderBatch, micro: number, seed: number): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    if (this.closed) throw new Error('trainer replica pool is closed');
    const n = batch.questions.length;
    const used = Math.min(this.replicas.length, n);
    const bounds = Array.from({ length: used + 1 }, (_, r) => Math.floor((r * n) / used));
    const t0 = (this.stepStart = performance.now());
    const shards = await Promise.all(bounds.slice(0, -1).map((q0, r) => model.tokenize(batch, micro, q0, bounds[r + 1])));
    this.timings = { tokenizeMs: performance.now() - t0, replicasMs: 0, reduceMs: 0 };
    const assign = this.stale;
    this.stale = false;
    // Replicas left without questions (a short last batch) still refresh their weights later.
    if (used < this.replicas.length) this.stale = assign;
    const replicas = this.replicas.slice(0, used);
    if (shards.every((mbs) => mbs.length === 1)) return this.exchangeStep(model, batch, shards, bounds, seed, assign, replicas);
    return this.gradCacheStep(model, batch, shards, seed, assign, replicas);
  }

  private async exchangeStep(model: BiEncoder, batch: BiEncoderBatch, shards: MicroBatch[][], bounds: number[], seed: number, assign: boolean, replicas: Replica[]) {
    const n = batch.questions.length;
    const P = batch.passages.length;
    const dim = model.query.dim;
    const exchange = EmbeddingExchange.create(n + P, dim, replicas.length);
    this.current = exchange;
    try {
      const replies = await settle(
        replicas.map((r, rank) =>
          r.request({
            type: 'exchange', assign, mb: shards[rank][0], positiveIndex: batch.positiveIndex, masked: batch.masked,
            at: { q0: bounds[rank], p0: batch.positiveIndex[bounds[rank]] },
            buffer: exchange.buffer, rows: n + P, dim, parties: replicas.length, seed: deriveSeed(seed, rank),
          }),
        ),
      );
      return { loss: replies[0].loss!, grads: this.reduce(replicas, replies) };
    } finally {
      this.current = undefined;
    }
  }

  private async gradCacheStep(model: BiEncoder, batch: BiEncoderBatch, shards: MicroBatch[][], seed: number, assign: boolean, replicas: Replica[]) {
    const { tf } = this;
    const dim = model.query.dim;
    const seeds: number[][] = [];
    let index = 0;
    for (const mbs of shards) seeds.push(mbs.map(() => deriveSeed(seed, index++)));
    const embedded = await settle(replicas.map((r, rank) => r.request({ type: 'embed', assign, mbs: shards[rank], seeds: seeds[rank] })));
    const join = (parts: Float32Array[]) => {
      const out = new Float32Array(parts.reduce((s, a) => s + a.length, 0));
      let at = 0;
      for (const a of parts) out.set(a, (at += a.length) - a.length);
      return out;
    };
    const { loss, dq, dp } = await dprLossAndEmbeddingGrads(tf, join(embedded.map((e) => e.q!)), join(embedded.map((e) => e.p!)), dim, batch.positiveIndex, batch.masked);
    let qAt = 0;
    let pAt = 0;
    const replies = await settle(
      replicas.map((r, rank) => {
        const qLen = embedded[rank].q!.length; // this replica's rows × dim
        const pLen = embedded[rank].p!.length;
        const req = r.request({ type: 'backprop', assign: false, mbs: shards[rank], seeds: seeds[rank], dq: dq.slice(qAt, qAt + qLen), dp: dp.slice(pAt, pAt + pLen) });
        qAt += qLen;
        pAt += pLen;
        return req;
      }),
    );
    return { loss, grads: this.reduce(replicas, replies) };
  }

  /**
   * Sums the replicas' gradients in replica order, in place in the first buffer holding each key
   * (the buffers are not touched again before the next step).
   */
  private reduce(replicas: Replica[], replies: Reply[]): Map<string, Float32Array> {
    const t0 = performance.now();
    this.timings.replicasMs = t0 - this.timings.tokenizeMs - this.stepStart;
    const native = loadNative()?.kernels;
    const grads = new Map<string, Float32Array>();
    replicas.forEach((r, i) => {
      for (const key of replies[i].keys!) {
        const g = r.grads.get(key)!;
        const acc = grads.get(key);
        if (!acc) grads.set(key, g);
        else if (native) native.addInto(acc, g);
        else for (let j = 0; j < acc.length; j++) acc[j] += g[j];
      }
    });
    this.timings.reduceMs = performance.now() - t0;
    return grads;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
  }
}
