/**
 * Training throughput per encoder family at BERT-tiny's shape (hidden 128, 2 layers, 2 heads, FFN
 * 512; T5: d_kv 64 so heads·d_kv = 128, ReLU FFN), each family with its own vocabulary (BERT and
 * DistilBERT 30522, RoBERTa 50265, T5 32128) and embeddings, fixed-length synthetic ids, separate
 * query/passage encoders, DPR loss with 1 hard negative, AdamW with clipping at 2.0, dropout on: the
 * step bench/train-throughput.ts times for BERT, on dprep's default 2 data-parallel replicas.
 * Families run interleaved, step by step, so machine load hits them alike. The PyTorch peer of the
 * same shapes is `bench/train-torch.py --family all`; bench/family-bench.sh runs both in rounds.
 * Usage: npx tsx bench/family-throughput.ts [--batch 16] [--qlen 32] [--plen 128] [--steps 10] [--workers 2] [--families bert,roberta,distilbert,t5] [--backend wasm]
 * Prints one JSON line per family: median s/step, questions/s, GFLOP/s, seconds per GFLOP relative to BERT's.
 */
import { parseArgs } from 'node:util';
import { loadTf, type BackendChoice } from '../src/trainer/backend.ts';
import type { EncoderConfig } from '../src/trainer/config.ts';
import { AdamW, clipFactor, linearSchedule } from '../src/trainer/optimizer.ts';
import { ReplicaPool } from '../src/trainer/parallel.ts';
import { benchBatch, FAMILY_CONFIGS, familyModel } from './_train-setup.ts';

const { values: a } = parseArgs({ options: {
  batch: { type: 'string', default: '16' }, qlen: { type: 'string', default: '32' }, plen: { type: 'string', default: '128' },
  steps: { type: 'string', default: '10' }, workers: { type: 'string', default: '2' }, backend: { type: 'string', default: 'wasm' },
  families: { type: 'string', default: 'bert,roberta,distilbert,t5' },
} });
const B = Number(a.batch), qLen = Number(a.qlen), pLen = Number(a.plen), steps = Number(a.steps), workers = Number(a.workers);
const names = a.families.split(',');
for (const n of names) if (!FAMILY_CONFIGS[n]) throw new Error(`--families: unknown family "${n}"; expected some of ${Object.keys(FAMILY_CONFIGS).join(', ')}`);
if (names[0] !== 'bert') throw new Error('--families: the list must start with bert (ratios are relative to it)');

/**
 * Model FLOPs of one training step (3 × forward: forward + backward, the convention for "achieved"):
 * per layer and token 2·(4·H·A) for q/k/v/o (A = heads·d_kv, = H outside T5), 2·(2·H·I) for the FFN
 * (3·H·I when gated), 2·2·L·A for scores and context. Embeddings, norms, softmax and the loss are not counted.
 */
export function stepFlops(c: EncoderConfig, seqs: number, len: number): number {
  const H = c.hidden_size, I = c.intermediate_size;
  const A = c.t5 ? c.t5.d_kv * c.num_attention_heads : H;
  const ffn = c.t5?.is_gated ? 6 * H * I : 4 * H * I;
  return 3 * c.num_hidden_layers * (seqs * len * (8 * H * A + ffn) + seqs * 4 * len * len * A);
}

const { tf, backend } = await loadTf(a.backend as BackendChoice);
const batch = benchBatch(B);
const runs = [];
for (const name of names) {
  const config = FAMILY_CONFIGS[name];
  const model = familyModel(tf, config, qLen, pLen);
  let master = await model.masterWeights();
  let pool: ReplicaPool | undefined;
  if (workers > 1) {
    ({ pool, master } = await ReplicaPool.start(tf, workers, { backend, configs: { query: config, passage: config }, options: model.opts,
      tensors: { query: await model.query.toTensors(), passage: await model.passage.toTensors() }, master }));
  }
  runs.push({ name, config, model, pool, master, opt: new AdamW({ lr: 2e-5 }), times: [] as number[], flops: stepFlops(config, B, qLen) + stepFlops(config, 2 * B, pLen) });
}
// step 0 of each family is its warm-up (kernel setup, heap growth); the rest are timed
for (let s = 0; s <= steps; s++) {
  for (const r of runs) {
    const t0 = performance.now();
    const { grads } = r.pool ? await r.pool.lossAndGrads(r.model, batch, B, s) : await r.model.lossAndGrads(batch, B, s);
    r.opt.apply(r.master, grads, 2e-5 * linearSchedule(s, 0, 100), clipFactor(grads, 2).factor);
    if (r.pool) r.pool.weightsChanged();
    else r.model.assign(r.master);
    if (s > 0) r.times.push((performance.now() - t0) / 1000);
  }
}
const median = (t: number[]) => [...t].sort((x, y) => x - y)[Math.floor(t.length / 2)];
const base = median(runs[0].times) / runs[0].flops;
for (const r of runs) {
  const sec = median(r.times);
  console.log(JSON.stringify({ impl: 'dprep', family: r.name, backend, workers, batch: B, qLen, pLen, steps, vocab: r.config.vocab_size, sec_per_step: +sec.toFixed(4),
    questions_per_s: +(B / sec).toFixed(2), gflop_per_step: +(r.flops / 1e9).toFixed(3), achieved_gflops: +(r.flops / sec / 1e9).toFixed(2),
    per_flop_vs_bert: +(sec / r.flops / base).toFixed(3) }));
  await r.pool?.close();
  r.model.dispose();
}
