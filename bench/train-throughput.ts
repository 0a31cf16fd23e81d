/**
 * Training throughput of dprep's tfjs bi-encoder (separate query/passage BERTs, DPR loss with
 * in-batch + 1 hard negative, AdamW, clipping), fixed-length synthetic token ids so the PyTorch
 * peer (bench/train-torch.py) computes exactly the same shapes.
 * Usage: npx tsx bench/train-throughput.ts --size tiny|base [--batch 16] [--micro 16] [--qlen 32] [--plen 128] [--steps 5] [--workers 1] [--backend wasm]
 * Prints one JSON line: seconds per step, questions/s, achieved GFLOP/s (model FLOPs).
 */
import { parseArgs } from 'node:util';
import { loadTf, type BackendChoice } from '../src/trainer/backend.ts';
import { ReplicaPool } from '../src/trainer/parallel.ts';
import type { BertConfig } from '../src/trainer/config.ts';
import { benchBatch, benchConfig, benchModel } from './_train-setup.ts';
import { AdamW, clipFactor, linearSchedule } from '../src/trainer/optimizer.ts';

const { values: a } = parseArgs({ options: {
  size: { type: 'string', default: 'tiny' }, batch: { type: 'string', default: '16' }, micro: { type: 'string' },
  qlen: { type: 'string' }, plen: { type: 'string' }, steps: { type: 'string', default: '5' }, workers: { type: 'string', default: '1' }, backend: { type: 'string', default: 'wasm' },
} });
const size = a.size as 'tiny' | 'base';
const B = Number(a.batch);
const micro = Number(a.micro ?? a.batch);
const qLen = Number(a.qlen ?? (size === 'tiny' ? 32 : 64));
const pLen = Number(a.plen ?? (size === 'tiny' ? 128 : 256));
const steps = Number(a.steps);
const config = benchConfig(size);

/** Model FLOPs of one training step (forward ×3: forward + backward), the convention for "achieved". */
export function stepFlops(c: BertConfig, seqs: number, len: number): number {
  const H = c.hidden_size, I = c.intermediate_size;
  const perLayer = seqs * len * (8 * H * H + 4 * H * I) + seqs * 4 * len * len * H;
  return 3 * c.num_hidden_layers * perLayer;
}

const { tf, backend, threads } = await loadTf(a.backend as BackendChoice);
const model = benchModel(tf, config, qLen, pLen);
const workers = Number(a.workers);
let master = await model.masterWeights();
let pool: ReplicaPool | undefined;
if (workers > 1) {
  ({ pool, master } = await ReplicaPool.start(tf, workers, { backend, configs: { query: config, passage: config }, options: model.opts,
    tensors: { query: await model.query.toTensors(), passage: await model.passage.toTensors() }, master }));
}
const opt = new AdamW({ lr: 2e-5 });
const batch = benchBatch(B);
const flops = stepFlops(config, B, qLen) + stepFlops(config, 2 * B, pLen);
const times: number[] = [];
for (let s = 0; s <= steps; s++) {
  const t0 = performance.now();
  const { grads } = pool ? await pool.lossAndGrads(model, batch, micro, s) : await model.lossAndGrads(batch, micro, s);
  opt.apply(master, grads, 2e-5 * linearSchedule(s, 0, 100), clipFactor(grads, 2).factor);
  if (pool) pool.weightsChanged();
  else model.assign(master);
  if (s > 0 || steps === 0) times.push((performance.now() - t0) / 1000);
  if (process.env.DPREP_BENCH_TRACE) console.error(JSON.stringify({ step: s, total_ms: +(performance.now() - t0).toFixed(1), ...pool?.timings }));
}
times.sort((x, y) => x - y);
const sec = times[Math.floor(times.length / 2)];
await pool?.close();
console.log(JSON.stringify({ impl: 'dprep-tfjs', backend, threads, workers, size, batch: B, micro, qLen, pLen, steps: times.length, sec_per_step: +sec.toFixed(3),
  questions_per_s: +(B / sec).toFixed(2), gflop_per_step: +(flops / 1e9).toFixed(1), achieved_gflops: +(flops / sec / 1e9).toFixed(2),
  // this thread's wasm heap (it only grows: its peak); with replicas, each has its own
  wasm_heap_gb: backend === 'wasm' ? +((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length / 2 ** 30).toFixed(2) : undefined }));
