/**
 * The DPR training loop: seeded shuffling per epoch, AdamW with linear warmup/decay and clipping,
 * validation (NLL and average rank) with best/last checkpoints, metrics as JSON lines, and a
 * resumable state that makes a killed-and-resumed run equal an uninterrupted one.
 *
 * Layout of `--out`:
 *   query_encoder/ passage_encoder/   final encoders (best on dev, else last), HF layout
 *   best/{query,passage}_encoder/     best dev average rank so far
 *   last/{query,passage}_encoder/ + optimizer.safetensors + trainer_state.json   (for --resume)
 *   metrics.jsonl  train_config.json
 */
import { appendFile, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freemem, totalmem } from 'node:os';
import { writeFileAtomic } from '../io/atomic.ts';
import { Progress } from '../util/progress.ts';
import { UsageError } from '../util/errors.ts';
import { deriveSeed, seededRandom, shuffleInPlace } from '../util/random.ts';
import { loadTf } from './backend.ts';
import { BiEncoder } from './biencoder.ts';
import { readModelDir, writeModelDir } from './checkpoint.ts';
import { ENCODER_SETTINGS_FILE, type EncoderSettings } from './encoder.ts';
import { makeBatch, readExamples, type BiEncoderExample } from './data.ts';
import { positiveRanks } from './loss.ts';
import { estimateTrainingMemory, GB } from './memory.ts';
import { AdamW, clipFactor, linearSchedule } from './optimizer.ts';
import { loadNative, nativeLoadError } from './native.ts';
import { ReplicaPool } from './parallel.ts';
import { readSafetensors, writeSafetensors, type NamedTensor } from './safetensors.ts';
import { loadTokenizer } from './tokenizer.ts';
import { checkTrainOptions, fingerprintChanges, trainFingerprint, type TrainOptions } from './options.ts';
import type { BertConfig } from './config.ts';

export type { TrainOptions } from './options.ts';

export interface TrainResult {
  metrics: Record<string, number>;
  steps: number;
}

interface TrainerState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  epochLossSum: number;
  epochLossCount: number;
  lastEpochLoss: number | null;
  best: { avgRank: number; nll: number; step: number } | null;
  lastDev: { avgRank: number; nll: number } | null;
  fingerprint: string;
}

/**
 * Trains a DPR bi-encoder; returns `dev.avg_rank`, `dev.nll`, `train.loss` and throughput.
 * @example await trainBiEncoder({ ...defaults, train: 'train.json', queryModel: 'tiny-bert', out: 'runs/s1' });
 */
export async function trainBiEncoder(o: TrainOptions): Promise<TrainResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + '\n'));
  checkTrainOptions(o);
  const { tf, backend, threads } = await loadTf(o.backend);
  const resumeDir = o.resume ? join(o.resume, 'last') : undefined;
  if (resumeDir && !existsSync(join(resumeDir, 'trainer_state.json'))) throw new UsageError(`--resume ${o.resume}: no last/trainer_state.json there (nothing to resume)`);

  const qDir = resumeDir ? join(resumeDir, 'query_encoder') : o.queryModel;
  const pDir = resumeDir ? join(resumeDir, o.sharedEncoder ? 'query_encoder' : 'passage_encoder') : (o.passageModel ?? o.queryModel);
  const q = await readModelDir(qDir, 'query');
  const p = o.sharedEncoder ? q : await readModelDir(pDir, 'passage');

  const workers = o.workers > 0 ? o.workers : backend === 'tensorflow' ? 1 : 2;
  const globalBatch = o.batchSize * o.gradAccum;
  // Each replica holds a shard of the batch: ceil(batch / workers) questions, in micro-batches of --batch-size.
  const shardQuestions = Math.ceil(globalBatch / workers);
  const microQuestions = Math.min(o.batchSize, shardQuestions);

  // Memory check before any tensor exists.
  const native = backend === 'wasm' ? loadNative() : undefined;
  const est = estimateTrainingMemory(q.config, p.config, {
    microQuestions, passagesPerQuestion: 1 + o.hardNegatives, queryLen: o.maxQueryLen, passageLen: o.maxPassageLen, shared: o.sharedEncoder,
    accumulate: shardQuestions > microQuestions, replicas: workers > 1 ? workers : 0, native: native !== undefined,
  });
  const heapLimit = (o.maxMemoryGb ?? (backend === 'wasm' ? 3.8 : (totalmem() * 0.8) / GB)) * GB;
  log(
    `trainer: backend ${backend}${backend === 'wasm' ? ` (${threads} thread${threads > 1 ? 's' : ''}${native ? ', native OpenBLAS matmul' : ''})` : ''}` +
      `${workers > 1 ? `, ${workers} data-parallel replicas` : ''}; estimated memory ${(est.tensorBytes / GB).toFixed(2)} GB tensors` +
      `${workers > 1 ? ' per replica' : ''} + ${(est.jsBytes / GB).toFixed(2)} GB JS (budget ${(heapLimit / GB).toFixed(1)} GB)`,
  );
  if (backend === 'wasm' && !native && nativeLoadError) log(`trainer: native kernels not used (${nativeLoadError})`);
  // Each replica has its own heap; this thread's copy of the model (validation, checkpoints) needs about its weights.
  const ramBytes = est.jsBytes + (workers > 1 ? workers * est.tensorBytes + est.weightBytes : 0);
  if (workers > 1 && est.tensorBytes <= heapLimit && ramBytes > freemem() * 0.9 && o.maxMemoryGb === undefined) {
    throw new UsageError(
      `estimated memory of ${workers} data-parallel replicas ${(ramBytes / GB).toFixed(1)} GB exceeds the free RAM ${(freemem() / GB).toFixed(1)} GB;` +
        ` use fewer --workers (1 runs in this process), or lower --batch-size and raise --grad-accum; --max-memory-gb overrides.`,
    );
  }
  if (est.tensorBytes > heapLimit || est.jsBytes > freemem() * 0.9) {
    throw new UsageError(
      `estimated memory ${(est.tensorBytes / GB).toFixed(1)} GB of tensors (+${(est.jsBytes / GB).toFixed(1)} GB JS) exceeds the budget ${(heapLimit / GB).toFixed(1)} GB` +
        ` (${backend === 'wasm' ? "the wasm backend's heap is 4 GB" : 'from RAM'}). Lower --batch-size and raise --grad-accum by the same factor` +
        ` (the optimizer step is unchanged: accumulation here equals the larger batch), or shorten --max-passage-len; --max-memory-gb overrides.`,
    );
  }

  const { examples, summary } = await readExamples(o.train, o.hardNegatives);
  for (const [reason, n] of summary.skipped) log(`trainer: skipped ${n} training record(s): ${reason}`);
  if (examples.length === 0) throw new UsageError(`${o.train}: no usable training records (read ${summary.read})`);
  const dev = o.dev ? (await readExamples(o.dev, o.hardNegatives, o.devMaxQuestions)).examples : [];

  const tokenizers = {
    query: await loadTokenizer(qDir, Math.min(o.maxQueryLen, q.config.max_position_embeddings)),
    passage: await loadTokenizer(pDir, Math.min(o.maxPassageLen, p.config.max_position_embeddings)),
  };
  const model = new BiEncoder(tf, { query: q.config, passage: p.config }, { query: q.tensors, passage: p.tensors }, tokenizers, {
    pooling: o.pooling, normalize: o.normalize, shared: o.sharedEncoder,
  });
  let master = await model.masterWeights();
  const optimizer = new AdamW({ lr: o.lr, weightDecay: o.weightDecay });
  let pool: ReplicaPool | undefined;
  if (workers > 1) {
    ({ pool, master } = await ReplicaPool.start(tf, workers, {
      backend, configs: { query: q.config, passage: p.config }, options: model.opts, tensors: { query: q.tensors, passage: p.tensors }, master,
    }));
  }
  try {
    return await trainLoop();
  } finally {
    await pool?.close();
  }

  async function trainLoop(): Promise<TrainResult> {
  const stepsPerEpoch = Math.ceil(examples.length / globalBatch);
  const scheduleSteps = stepsPerEpoch * o.epochs;
  const totalSteps = o.maxSteps > 0 ? Math.min(o.maxSteps, scheduleSteps) : scheduleSteps;

  let state: TrainerState = {
    step: 0, epoch: 0, batchInEpoch: 0, epochLossSum: 0, epochLossCount: 0, lastEpochLoss: null, best: null, lastDev: null, fingerprint: trainFingerprint({ ...o, workers }),
  };
  const metricsFile = join(o.out, 'metrics.jsonl');
  await mkdir(o.out, { recursive: true });
  if (resumeDir) {
    const saved = JSON.parse(await readFile(join(resumeDir, 'trainer_state.json'), 'utf8')) as TrainerState;
    if (saved.fingerprint !== state.fingerprint) {
      const changed = fingerprintChanges(saved.fingerprint, state.fingerprint);
      throw new UsageError(`--resume ${o.resume}: the run was started with different training options${changed.length ? ` (${changed.join(', ')})` : ''}; resume with the same ones`);
    }
    state = saved;
    optimizer.loadState((await readSafetensors(join(resumeDir, 'optimizer.safetensors'))).tensors, state.step);
    // Keep the metric lines up to the resumed step (a killed run may have logged past its last save).
    if (existsSync(metricsFile)) {
      const kept = (await readFile(metricsFile, 'utf8')).split('\n').filter((l) => l && (JSON.parse(l) as { step: number }).step <= state.step);
      await writeFileAtomic(metricsFile, kept.map((l) => l + '\n').join(''));
    }
    log(`trainer: resumed from ${o.resume} at step ${state.step} (epoch ${state.epoch + 1}, batch ${state.batchInEpoch})`);
  } else {
    await writeFileAtomic(metricsFile, '');
  }
  await writeFileAtomic(join(o.out, 'train_config.json'), JSON.stringify({ ...o, log: undefined, backend }, null, 2) + '\n');

  const tokenizerSource = { query: qDir, passage: pDir };
  const configs = { query: q.config, passage: p.config };
  const progress = new Progress('train', { total: totalSteps, unit: 'steps' });
  progress.update(state.step);
  const started = Date.now();
  let questionsDone = 0;

  let savedAtStep = resumeDir ? state.step : -1;
  // With replicas, this thread's copy of the model (validation, checkpoints) is refreshed on demand.
  let mainStale = false;
  const evaluateAndSave = async (trainLoss: number | null) => {
    if (savedAtStep === state.step) return;
    savedAtStep = state.step;
    if (mainStale) {
      model.assign(master);
      mainStale = false;
    }
    const row: Record<string, number> = { step: state.step, epoch: state.epoch, lr: o.lr * linearSchedule(Math.max(0, state.step - 1), o.warmup, scheduleSteps) };
    if (trainLoss !== null) row['train.loss'] = trainLoss;
    let improved = false;
    if (dev.length > 0) {
      const d = await validate(model, dev, globalBatch, o);
      row['dev.nll'] = d.nll;
      row['dev.avg_rank'] = d.avgRank;
      for (const [k, v] of Object.entries(d.top)) row[`dev.top${k}`] = v;
      state.lastDev = { nll: d.nll, avgRank: d.avgRank };
      if (!state.best || d.avgRank < state.best.avgRank || (d.avgRank === state.best.avgRank && d.nll < state.best.nll)) {
        state.best = { nll: d.nll, avgRank: d.avgRank, step: state.step };
        improved = true;
      }
    }
    row.questions_per_s = questionsDone / Math.max((Date.now() - started) / 1000, 1e-3);
    await appendFile(metricsFile, JSON.stringify(row) + '\n');
    await saveCheckpoint(join(o.out, 'last'), model, configs, tokenizerSource, o.sharedEncoder, { optimizer, state });
    if (improved) await saveCheckpoint(join(o.out, 'best'), model, configs, tokenizerSource, o.sharedEncoder);
  };
  const runningLoss = () => (state.epochLossCount > 0 ? state.epochLossSum / state.epochLossCount : null);

  while (state.epoch < o.epochs && state.step < totalSteps) {
    const order = shuffleInPlace(
      examples.map((_, i) => i),
      seededRandom(deriveSeed(o.seed, 'shuffle', state.epoch)),
    );
    while (state.batchInEpoch < stepsPerEpoch && state.step < totalSteps) {
      const ids = order.slice(state.batchInEpoch * globalBatch, (state.batchInEpoch + 1) * globalBatch);
      const batch = makeBatch(examples, ids, { positives: o.positives, embedTitle: o.embedTitle, seed: o.seed, epoch: state.epoch });
      const dropoutSeed = deriveSeed(o.seed, 'dropout', state.step);
      const { loss, grads } = pool ? await pool.lossAndGrads(model, batch, o.batchSize, dropoutSeed) : await model.lossAndGrads(batch, o.batchSize, dropoutSeed);
      // Clipping is applied inside the update (one pass over the gradients instead of two).
      const { factor } = clipFactor(grads, o.maxGradNorm);
      optimizer.apply(master, grads, o.lr * linearSchedule(state.step, o.warmup, scheduleSteps), factor);
      if (pool) {
        pool.weightsChanged();
        mainStale = true;
      } else model.assign(master);
      state.step++;
      state.batchInEpoch++;
      state.epochLossSum += loss;
      state.epochLossCount++;
      questionsDone += ids.length;
      const qps = questionsDone / Math.max((Date.now() - started) / 1000, 1e-3);
      progress.tick(1, `epoch ${state.epoch + 1}/${o.epochs} loss ${loss.toFixed(4)} ${qps.toFixed(1)} q/s`);
      if (o.evalEvery > 0 && state.step % o.evalEvery === 0 && state.batchInEpoch < stepsPerEpoch) await evaluateAndSave(runningLoss());
    }
    if (state.batchInEpoch < stepsPerEpoch) break; // stopped by --max-steps mid-epoch
    // Epoch done: the saved state points at the next epoch's first batch.
    state.lastEpochLoss = runningLoss();
    state.epoch++;
    state.batchInEpoch = 0;
    state.epochLossSum = 0;
    state.epochLossCount = 0;
    await evaluateAndSave(state.lastEpochLoss);
  }
  if (state.batchInEpoch > 0 && state.epochLossCount > 0) {
    // Stopped by --max-steps mid-epoch: save so the run can be inspected or resumed.
    state.lastEpochLoss = runningLoss();
    await evaluateAndSave(state.lastEpochLoss);
  }
  progress.finish();

  const finalFrom = state.best && existsSync(join(o.out, 'best')) ? 'best' : 'last';
  for (const role of ['query_encoder', 'passage_encoder']) {
    const tmp = join(o.out, `.${role}.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await cp(join(o.out, finalFrom, role), tmp, { recursive: true });
    await rm(join(o.out, role), { recursive: true, force: true });
    await rename(tmp, join(o.out, role));
    // How the encoder was trained, so encode / eval / mine.dense embed the same way by default.
    const settings: EncoderSettings = {
      pooling: o.pooling,
      normalize: o.normalize,
      embed_title: o.embedTitle,
      max_length: role === 'query_encoder' ? o.maxQueryLen : o.maxPassageLen,
    };
    await writeFile(join(o.out, role, ENCODER_SETTINGS_FILE), JSON.stringify(settings, null, 2) + '\n');
  }
  model.dispose();
  const secs = (Date.now() - started) / 1000;
  const metrics: Record<string, number> = {
    'train.loss': state.lastEpochLoss ?? NaN,
    'train.steps': state.step,
    'train.questions_per_s': questionsDone / Math.max(secs, 1e-3),
  };
  if (state.lastDev) {
    metrics['dev.avg_rank'] = state.lastDev.avgRank;
    metrics['dev.nll'] = state.lastDev.nll;
  }
  log(`trainer: done, ${state.step} steps; final encoders from ${finalFrom}/ in ${o.out}`);
  return { metrics, steps: state.step };
  }
}

/** Dev NLL (in batches of the training size), DPR's average rank over all dev passages, and top-k accuracy (positive ranked < k). */
export async function validate(model: BiEncoder, dev: readonly BiEncoderExample[], globalBatch: number, o: Pick<TrainOptions, 'embedTitle' | 'seed' | 'batchSize'>): Promise<{ nll: number; avgRank: number; top: Record<number, number> }> {
  const all = makeBatch(dev, dev.map((_, i) => i), { positives: 'first', embedTitle: o.embedTitle, seed: o.seed, epoch: 0 });
  const H = model.query.config.hidden_size;
  const qv = await model.embedAll('query', all.questions, o.batchSize);
  const pv = await model.embedAll('passage', all.passages, o.batchSize);
  const Q = all.questions.length;
  const P = all.passages.length;
  const scores = new Float32Array(Q * P); // [Q, P]
  for (let i = 0; i < Q; i++) {
    for (let j = 0; j < P; j++) {
      let s = 0;
      for (let h = 0; h < H; h++) s += qv[i * H + h] * pv[j * H + h];
      scores[i * P + j] = s;
    }
  }
  const ranks = positiveRanks(scores, Q, P, all.positiveIndex);
  let nllSum = 0;
  for (let s = 0; s < Q; s += globalBatch) {
    const e = Math.min(s + globalBatch, Q);
    const p0 = all.positiveIndex[s];
    const p1 = e < Q ? all.positiveIndex[e] : P;
    for (let i = s; i < e; i++) {
      let max = -Infinity;
      for (let j = p0; j < p1; j++) max = Math.max(max, scores[i * P + j]);
      let z = 0;
      for (let j = p0; j < p1; j++) z += Math.exp(scores[i * P + j] - max);
      nllSum += -(scores[i * P + all.positiveIndex[i]] - max - Math.log(z));
    }
  }
  const top = Object.fromEntries([1, 5, 20].map((k) => [k, ranks.filter((r) => r < k).length / Q]));
  return { nll: nllSum / Q, avgRank: ranks.reduce((a, b) => a + b, 0) / Q, top };
}

/** Writes encoders (+ optimizer and trainer state when given) to `dir` atomically as a whole. */
async function saveCheckpoint(
  dir: string,
  model: BiEncoder,
  configs: { query: BertConfig; passage: BertConfig },
  tokenizerFrom: { query: string; passage: string },
  shared: boolean,
  resume?: { optimizer: AdamW; state: TrainerState },
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const qTensors = await model.query.toTensors();
  await writeModelDir(join(tmp, 'query_encoder'), configs.query, qTensors, tokenizerFrom.query);
  const pTensors: Map<string, NamedTensor> = shared ? qTensors : await model.passage.toTensors();
  await writeModelDir(join(tmp, 'passage_encoder'), configs.passage, pTensors, tokenizerFrom.passage);
  if (resume) {
    await writeSafetensors(join(tmp, 'optimizer.safetensors'), resume.optimizer.stateTensors());
    await writeFileAtomic(join(tmp, 'trainer_state.json'), JSON.stringify(resume.state, null, 2) + '\n');
  }
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) await rename(dir, old);
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}
