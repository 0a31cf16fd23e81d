/**
 * Training throughput of dprep's tfjs bi-encoder (separate query/passage BERTs, DPR loss with
 * in-batch + 1 hard negative, AdamW, clipping), fixed-length synthetic token ids so the PyTorch
 * peer (bench/train-torch.py) computes exactly the same shapes.
 * Usage: npx tsx bench/train-throughput.ts --size tiny|base [--batch 16] [--micro 16] [--qlen 32] [--plen 128] [--steps 5] [--workers 1] [--backend wasm]
 * Prints one JSON line: seconds per step, questions/s, achieved GFLOP/s (model FLOPs).
 */
import { parseArgs } from 'node:util';
import { loadTf, type BackendChoice } from '../src/trainer/backend.ts';
import { BiEncoder } from '../src/trainer/biencoder.ts';
import { ReplicaPool } from '../src/trainer/parallel.ts';
import { initBertTensors } from '../src/trainer/bert.ts';
import { parseBertConfig, type BertConfig } from '../src/trainer/config.ts';
import { AdamW, clipFactor, linearSchedule } from '../src/trainer/optimizer.ts';
import type { TextTokenizer } from '../src/trainer/tokenizer.ts';
import type { BiEncoderBatch } from '../src/trainer/data.ts';
import { seededRandom } from '../src/util/random.ts';

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
const dims = size === 'tiny' ? { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 } : { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 };
const config: BertConfig = parseBertConfig({ vocab_size: 30522, max_position_embeddings: 512, ...dims }, size);

/** Fixed-length ids: [CLS] + random word ids + [SEP], exactly `len` tokens (no padding). */
const fixedTokenizer = (len: number, seed: number): TextTokenizer => {
  const rng = seededRandom(seed);
  return { maxLength: len, async encode(inputs) {
    return inputs.map(() => ({ ids: [101, ...Array.from({ length: len - 2 }, () => 1000 + Math.floor(rng() * 29000)), 102], typeIds: new Array(len).fill(0) }));
  } };
};

/** Model FLOPs of one training step (forward ×3: forward + backward), the convention for "achieved". */
export function stepFlops(c: BertConfig, seqs: number, len: number): number {
  const H = c.hidden_size, I = c.intermediate_size;
  const perLayer = seqs * len * (8 * H * H + 4 * H * I) + seqs * 4 * len * len * H;
  return 3 * c.num_hidden_layers * perLayer;
}

const { tf, backend, threads } = await loadTf(a.backend as BackendChoice);
const model = new BiEncoder(tf, { query: config, passage: config }, { query: initBertTensors(config, 1, false), passage: initBertTensors(config, 2, false) },
  { query: fixedTokenizer(qLen, 3), passage: fixedTokenizer(pLen, 4) }, { pooling: 'cls', normalize: false, shared: false });
const workers = Number(a.workers);
let master = await model.masterWeights();
let pool: ReplicaPool | undefined;
if (workers > 1) {
  ({ pool, master } = await ReplicaPool.start(tf, workers, { backend, configs: { query: config, passage: config }, options: model.opts,
    tensors: { query: await model.query.toTensors(), passage: await model.passage.toTensors() }, master }));
}
const opt = new AdamW({ lr: 2e-5 });
const batch: BiEncoderBatch = { questions: [], passages: [], positiveIndex: [] };
for (let i = 0; i < B; i++) {
  batch.questions.push({ text: 'q' });
  batch.positiveIndex.push(batch.passages.length);
  batch.passages.push({ text: 'pos' }, { text: 'hard negative' });
}
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
