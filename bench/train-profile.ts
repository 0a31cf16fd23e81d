/**
 * Where a BERT-tiny bi-encoder training step's time goes, in one process: wall time of the gradient
 * pass, clipping, AdamW and the weight copy, then tfjs's per-kernel time of one gradient pass.
 * Same shapes as bench/train-throughput.ts (batch 16, 1 hard negative, query 32 / passage 128).
 * Usage: npx tsx bench/train-profile.ts [--steps 4]      (DPREP_NATIVE=0: without dprep's native kernels)
 */
import { parseArgs } from 'node:util';
import { loadTf } from '../src/trainer/backend.ts';
import { BiEncoder } from '../src/trainer/biencoder.ts';
import { initBertTensors } from '../src/trainer/bert.ts';
import { parseBertConfig } from '../src/trainer/config.ts';
import { AdamW, clipFactor } from '../src/trainer/optimizer.ts';
import type { BiEncoderBatch } from '../src/trainer/data.ts';
import type { TextTokenizer } from '../src/trainer/tokenizer.ts';
import { seededRandom } from '../src/util/random.ts';

const { values: a } = parseArgs({ options: { steps: { type: 'string', default: '4' } } });
const config = parseBertConfig({ vocab_size: 30522, max_position_embeddings: 512, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 }, 'tiny');
const fixed = (len: number, seed: number): TextTokenizer => {
  const rng = seededRandom(seed);
  return { maxLength: len, async encode(inputs) {
    return inputs.map(() => ({ ids: [101, ...Array.from({ length: len - 2 }, () => 1000 + Math.floor(rng() * 29000)), 102], typeIds: new Array(len).fill(0) }));
  } };
};
const { tf, backend } = await loadTf('wasm');
const model = new BiEncoder(tf, { query: config, passage: config }, { query: initBertTensors(config, 1, false), passage: initBertTensors(config, 2, false) },
  { query: fixed(32, 3), passage: fixed(128, 4) }, { pooling: 'cls', normalize: false, shared: false });
const batch: BiEncoderBatch = { questions: [], passages: [], positiveIndex: [] };
for (let i = 0; i < Number(process.env.BATCH ?? 16); i++) {
  batch.questions.push({ text: 'q' });
  batch.positiveIndex.push(batch.passages.length);
  batch.passages.push({ text: 'p' }, { text: 'n' });
}
const master = await model.masterWeights();
const opt = new AdamW({ lr: 1e-5 });
const ms = (t0: number) => +(performance.now() - t0).toFixed(1);
for (let s = 0; s < Number(a.steps); s++) {
  let t = performance.now();
  const { grads } = await model.lossAndGrads(batch, 16, s);
  const row: Record<string, number> = { step: s, grads_ms: ms(t) };
  t = performance.now();
  const { factor } = clipFactor(grads, 2);
  row.clip_norm_ms = ms(t);
  t = performance.now();
  opt.apply(master, grads, 1e-5, factor);
  row.adamw_ms = ms(t);
  t = performance.now();
  model.assign(master);
  row.assign_ms = ms(t);
  console.log(JSON.stringify(row));
}
const profile = await tf.profile(async () => {
  await model.lossAndGrads(batch, 16, 99);
});
const byKernel = new Map<string, { ms: number; calls: number }>();
for (const k of profile.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += k.kernelTimeMs as number;
  e.calls++;
  byKernel.set(k.name, e);
}
console.log(`kernel time of one gradient pass (${backend}; "forward" and "fusedMatMul__op" wrap the kernels below them):`);
for (const [name, { ms: t, calls }] of [...byKernel].sort((x, y) => y[1].ms - x[1].ms).slice(0, 20)) console.log(`  ${name.padEnd(28)} ${t.toFixed(1).padStart(7)} ms  ${calls} calls`);
