/**
 * Training throughput per encoder family at one shape (BERT-tiny's: hidden 128, 2 layers, 2 heads,
 * FFN 512), fixed-length synthetic ids, separate query/passage encoders, DPR loss with 1 hard
 * negative, AdamW. Families run interleaved, step by step, so machine load hits them alike.
 * Usage: npx tsx bench/family-throughput.ts [--batch 16] [--qlen 32] [--plen 128] [--steps 6] [--backend wasm]
 * Prints one JSON line per family: median seconds per step, and seconds per GFLOP relative to BERT's.
 */
import { parseArgs } from 'node:util';
import { loadTf, type BackendChoice } from '../src/trainer/backend.ts';
import { BiEncoder } from '../src/trainer/biencoder.ts';
import { parseEncoderConfig, type EncoderConfig } from '../src/trainer/config.ts';
import { initEncoderTensors } from '../src/trainer/families.ts';
import { AdamW } from '../src/trainer/optimizer.ts';
import type { TextTokenizer } from '../src/trainer/tokenizer.ts';
import { seededRandom } from '../src/util/random.ts';
import { benchBatch } from './_train-setup.ts';

const { values: a } = parseArgs({ options: {
  batch: { type: 'string', default: '16' }, qlen: { type: 'string', default: '32' }, plen: { type: 'string', default: '128' },
  steps: { type: 'string', default: '6' }, backend: { type: 'string', default: 'wasm' },
} });
const B = Number(a.batch), qLen = Number(a.qlen), pLen = Number(a.plen), steps = Number(a.steps);
const bert = { vocab_size: 30522, max_position_embeddings: 514, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 };
const FAMILIES: [string, EncoderConfig][] = [
  ['bert', parseEncoderConfig(bert, 'bert')],
  ['roberta', parseEncoderConfig({ ...bert, model_type: 'roberta', type_vocab_size: 1 }, 'roberta')],
  ['distilbert', parseEncoderConfig({ vocab_size: 30522, dim: 128, n_layers: 2, n_heads: 2, hidden_dim: 512, model_type: 'distilbert' }, 'distilbert')],
  ['t5', parseEncoderConfig({ vocab_size: 30522, d_model: 128, d_kv: 64, d_ff: 512, num_layers: 2, num_heads: 2, model_type: 't5', feed_forward_proj: 'relu' }, 't5')],
];

/** Model FLOPs of one training step (forward ×3), the same convention as bench/train-throughput.ts. */
function stepFlops(c: EncoderConfig, seqs: number, len: number): number {
  const H = c.hidden_size, I = c.intermediate_size;
  const ffn = c.t5?.is_gated ? 6 * H * I : 4 * H * I;
  return 3 * c.num_hidden_layers * (seqs * len * (8 * H * H + ffn) + seqs * 4 * len * len * H);
}

const fixed = (len: number, seed: number): TextTokenizer => {
  const rng = seededRandom(seed);
  return { maxLength: len, async encode(inputs) {
    return inputs.map(() => ({ ids: [101, ...Array.from({ length: len - 2 }, () => 1000 + Math.floor(rng() * 29000)), 102], typeIds: new Array(len).fill(0) }));
  } };
};

const { tf, backend } = await loadTf(a.backend as BackendChoice);
const batch = benchBatch(B);
const runs = FAMILIES.map(([name, config]) => {
  const model = new BiEncoder(tf, { query: config, passage: config }, { query: initEncoderTensors(config, 1, false), passage: initEncoderTensors(config, 2, false) },
    { query: fixed(qLen, 3), passage: fixed(pLen, 4) }, { pooling: 'cls', normalize: false, shared: false });
  return { name, config, model, opt: new AdamW({ lr: 2e-5 }), master: undefined as Map<string, Float32Array> | undefined, times: [] as number[] };
});
for (const r of runs) r.master = await r.model.masterWeights();
for (let s = 0; s <= steps; s++) {
  for (const r of runs) {
    const t0 = performance.now();
    const { grads } = await r.model.lossAndGrads(batch, B, s);
    r.opt.apply(r.master!, grads, 2e-5);
    r.model.assign(r.master!);
    if (s > 0) r.times.push((performance.now() - t0) / 1000);
  }
}
const median = (t: number[]) => [...t].sort((x, y) => x - y)[Math.floor(t.length / 2)];
const perGflop = (r: (typeof runs)[number]) => median(r.times) / ((stepFlops(r.config, B, qLen) + stepFlops(r.config, 2 * B, pLen)) / 1e9);
const base = perGflop(runs[0]);
for (const r of runs) {
  console.log(JSON.stringify({ family: r.name, backend, batch: B, qLen, pLen, steps, sec_per_step: +median(r.times).toFixed(3), per_flop_vs_bert: +(perGflop(r) / base).toFixed(2) }));
  r.model.dispose();
}
