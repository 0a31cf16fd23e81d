/**
 * Where a BERT-tiny bi-encoder training step's time goes, in one process: wall time of the gradient
 * pass, clipping, AdamW and the weight copy, then tfjs's per-kernel time of one gradient pass.
 * Same shapes as bench/train-throughput.ts (batch 16, 1 hard negative, query 32 / passage 128);
 * --family roberta|distilbert|t5 profiles that family at the same shape (bench/family-throughput.ts's configs).
 * Usage: npx tsx bench/train-profile.ts [--steps 4] [--family bert]      (DPREP_NATIVE=0: without dprep's native kernels)
 */
import { parseArgs } from 'node:util';
import { loadTf } from '../src/trainer/backend.ts';
import { AdamW, clipFactor } from '../src/trainer/optimizer.ts';
import { benchBatch, benchConfig, benchModel, FAMILY_CONFIGS, familyModel } from './_train-setup.ts';

const { values: a } = parseArgs({ options: { steps: { type: 'string', default: '4' }, family: { type: 'string', default: 'bert' } } });
if (!FAMILY_CONFIGS[a.family]) throw new Error(`--family: unknown family "${a.family}"; expected one of ${Object.keys(FAMILY_CONFIGS).join(', ')}`);
const { tf, backend } = await loadTf('wasm');
const model = a.family === 'bert' ? benchModel(tf, benchConfig('tiny'), 32, 128) : familyModel(tf, FAMILY_CONFIGS[a.family], 32, 128);
const batch = benchBatch(Number(process.env.BATCH ?? 16));
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
for (const [name, { ms: t, calls }] of [...byKernel].sort((x, y) => y[1].ms - x[1].ms).slice(0, 24)) console.log(`  ${name.padEnd(28)} ${t.toFixed(1).padStart(7)} ms  ${calls} calls`);
