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
 *
 * The phases live beside it: options and the resume fingerprint (options.ts), the memory
 * pre-flight (memory.ts), the saved state (resume.ts), checkpoints and export (checkpoint.ts).
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { Progress } from '../util/progress.ts';
import { UsageError } from '../util/errors.ts';
import { deriveSeed } from '../util/random.ts';
import { loadTf } from './backend.ts';
import { BiEncoder } from './biencoder.ts';
import { exportEncoders, readModelDir, saveCheckpoint, type EncoderSettings } from './checkpoint.ts';
import type { BertConfig } from './config.ts';
import { epochOrder, makeBatch, readExamples, type BiEncoderExample } from './data.ts';
import { maxSequenceLength } from './families.ts';
import { positiveRanks } from './loss.ts';
import { checkTrainingMemory } from './memory.ts';
import { loadNative, nativeLoadError } from './native.ts';
import { AdamW, clipFactor, linearSchedule } from './optimizer.ts';
import { checkTrainOptions, trainFingerprint, type TrainOptions } from './options.ts';
import { ReplicaPool } from './parallel.ts';
import { freshState, readResumeState, trimMetrics, type TrainerState } from './resume.ts';
import type { NamedTensor } from './safetensors.ts';
import type { TF } from './tf-types.ts';
import { checkTokenizerConfig, loadTokenizer, type ModelTokenizer } from './tokenizer.ts';
import { parseTemplate, type InputTemplate } from './template.ts';

export type { TrainOptions } from './options.ts';

export interface TrainResult {
  metrics: Record<string, number>;
  steps: number;
}

/**
 * Trains a DPR bi-encoder; returns `dev.avg_rank`, `dev.nll`, `train.loss` and throughput.
 * @example await trainBiEncoder({ ...defaults, train: 'train.json', queryModel: 'tiny-bert', out: 'runs/s1' });
 */
export async function trainBiEncoder(o: TrainOptions): Promise<TrainResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + '\n'));
  checkTrainOptions(o);
  const templates = parseTemplates(o);
  const { tf, backend, threads } = await loadTf(o.backend);
  const workers = o.workers > 0 ? o.workers : backend === 'tensorflow' ? 1 : 2;
  const fingerprint = trainFingerprint({ ...o, workers });
  // A resume with other options is refused before anything heavy is loaded.
  const resumed = o.resume ? await readResumeState(o.resume, fingerprint) : undefined;

  // Build: start encoders, memory pre-flight (before any tensor exists), data, model, optimizer, replicas.
  const start = await readStartEncoders(o);
  const tokenizers = await loadTokenizers(o, start, templates, log);
  // A passage template decides whether titles are embedded (it reads {title} or not).
  const embedTitle = templates.passage ? templates.passage.usesTitle : o.embedTitle;
  const native = backend === 'wasm' ? loadNative() : undefined;
  checkTrainingMemory(start.query.config, start.passage.config, o, { backend, threads, native: native !== undefined, nativeError: nativeLoadError, workers }, log);
  const { examples, dev } = await readTrainingData(o, log);
  const model = buildModel(tf, o, start, tokenizers);
  const optimizer = new AdamW({ lr: o.lr, weightDecay: o.weightDecay });
  if (resumed) optimizer.loadState(resumed.optimizer, resumed.state.step);
  let master = await model.masterWeights();
  let pool: ReplicaPool | undefined;
  if (workers > 1) {
    const configs = { query: start.query.config, passage: start.passage.config };
    const tensors = { query: start.query.tensors, passage: start.passage.tensors };
    ({ pool, master } = await ReplicaPool.start(tf, workers, { backend, configs, options: model.opts, tensors, master }));
  }
  try {
    // (Resume) → loop → save.
    const state = resumed?.state ?? freshState(fingerprint);
    const metricsFile = await prepareRunDir(o, backend, resumed?.state, log);
    const globalBatch = o.batchSize * o.gradAccum;
    const stepsPerEpoch = Math.ceil(examples.length / globalBatch);
    const scheduleSteps = stepsPerEpoch * o.epochs;
    const run: TrainRun = {
      o, embedTitle, model, master, optimizer, pool, examples, dev, metricsFile, globalBatch, stepsPerEpoch, scheduleSteps,
      totalSteps: o.maxSteps > 0 ? Math.min(o.maxSteps, scheduleSteps) : scheduleSteps,
      encoders: { query: { config: start.query.config, tokenizerFrom: start.query.dir }, passage: { config: start.passage.config, tokenizerFrom: start.passage.dir } },
      started: Date.now(), questionsDone: 0, savedAtStep: resumed ? state.step : -1, mainStale: false,
      masked: { pairs: 0, batches: 0, of: 0 }, log,
    };
    await trainLoop(run, state);
    const finalFrom = state.best && existsSync(join(o.out, 'best')) ? 'best' : 'last';
    const settings = (role: 'query' | 'passage', maxLength: number) => encoderSettings(o, role, embedTitle, maxLength);
    await exportEncoders(o.out, finalFrom, { query: settings('query', o.maxQueryLen), passage: settings('passage', o.maxPassageLen) });
    model.dispose();
    log(`trainer: done, ${state.step} steps; final encoders from ${finalFrom}/ in ${o.out}`);
    return { metrics: finalMetrics(run, state), steps: state.step };
  } finally {
    await pool?.close();
  }
}

/**
 * Everything the loop reads, built once by `trainBiEncoder`. The last three fields are this
 * process's bookkeeping (throughput, the step last saved, whether this thread's model copy lags
 * the replicas'); what a resume needs is in `TrainerState`.
 */
interface TrainRun {
  o: TrainOptions;
  /** Passages keep their titles: --embed-title, or the passage template's {title}. */
  embedTitle: boolean;
  model: BiEncoder;
  /** The weights the optimizer updates in place (the replicas' shared views when there are replicas). */
  master: Map<string, Float32Array>;
  optimizer: AdamW;
  pool: ReplicaPool | undefined;
  examples: BiEncoderExample[];
  dev: BiEncoderExample[];
  metricsFile: string;
  /** Questions per optimizer step: batch-size · grad-accum. */
  globalBatch: number;
  stepsPerEpoch: number;
  /** Steps the learning-rate schedule spans (all epochs, whatever --max-steps). */
  scheduleSteps: number;
  totalSteps: number;
  encoders: { query: { config: BertConfig; tokenizerFrom: string }; passage: { config: BertConfig; tokenizerFrom: string } };
  started: number;
  questionsDone: number;
  savedAtStep: number;
  mainStale: boolean;
  /** In-batch false negatives found in the epoch's batches so far; logged per epoch. */
  masked: { pairs: number; batches: number; of: number };
  log: (message: string) => void;
}

/** The epoch/step loop, from wherever `state` stands to the last epoch or --max-steps. */
async function trainLoop(run: TrainRun, state: TrainerState): Promise<void> {
  const { o, embedTitle, model, master, optimizer, pool, examples, globalBatch, stepsPerEpoch, scheduleSteps, totalSteps } = run;
  const progress = new Progress('train', { total: totalSteps, unit: 'steps' });
  progress.update(state.step);
  while (state.epoch < o.epochs && state.step < totalSteps) {
    const order = epochOrder(examples, { seed: o.seed, epoch: state.epoch, batch: globalBatch, sampler: o.batchSampler });
    // A resumed epoch recounts its done batches, so the logged counts equal an uninterrupted run's.
    for (let k = 0; k < state.batchInEpoch; k++) countMasked(run, batchAt(run, order, state.epoch, k).masked);
    while (state.batchInEpoch < stepsPerEpoch && state.step < totalSteps) {
      const batch = batchAt(run, order, state.epoch, state.batchInEpoch);
      countMasked(run, batch.masked);
      if (!o.maskFalseNegatives) delete batch.masked; // found and counted, left in the loss
      const dropoutSeed = deriveSeed(o.seed, 'dropout', state.step);
      const { loss: computed, grads } = pool ? await pool.lossAndGrads(model, batch, o.batchSize, dropoutSeed) : await model.lossAndGrads(batch, o.batchSize, dropoutSeed);
      const loss = injectedFault(state.step + 1) ?? computed;
      // Clipping is applied inside the update (one pass over the gradients instead of two).
      const { norm, factor } = clipFactor(grads, o.maxGradNorm);
      // Stop before a non-finite step touches the weights: last/ stays the last good checkpoint.
      if (!Number.isFinite(loss) || !Number.isFinite(norm)) throw divergedError(run, state, loss, norm);
      optimizer.apply(master, grads, o.lr * linearSchedule(state.step, o.warmup, scheduleSteps), factor);
      if (pool) {
        pool.weightsChanged();
        run.mainStale = true;
      } else model.assign(master);
      state.step++;
      state.batchInEpoch++;
      state.epochLossSum += loss;
      state.epochLossCount++;
      run.questionsDone += batch.questions.length;
      progress.tick(1, `epoch ${state.epoch + 1}/${o.epochs} loss ${loss.toFixed(4)} ${questionsPerSecond(run).toFixed(1)} q/s`);
      if (o.evalEvery > 0 && state.step % o.evalEvery === 0 && state.batchInEpoch < stepsPerEpoch) await evaluateAndSave(run, state, runningLoss(state));
    }
    if (state.batchInEpoch < stepsPerEpoch) break; // stopped by --max-steps mid-epoch
    // Epoch done: the saved state points at the next epoch's first batch.
    state.lastEpochLoss = runningLoss(state);
    state.epoch++;
    state.batchInEpoch = 0;
    state.epochLossSum = 0;
    state.epochLossCount = 0;
    await evaluateAndSave(run, state, state.lastEpochLoss);
    logMasked(run, state.epoch - 1);
  }
  if (state.batchInEpoch > 0 && state.epochLossCount > 0) {
    // Stopped by --max-steps mid-epoch: save so the run can be inspected or resumed.
    state.lastEpochLoss = runningLoss(state);
    await evaluateAndSave(run, state, state.lastEpochLoss);
  }
  progress.finish();
}

/**
 * Test hook, for the tests of the stop below only: DPREP_TEST_NAN_LOSS_AT_STEP=N makes the loss of
 * optimizer step N (1-based) NaN, as a diverging run's would be.
 */
function injectedFault(step: number): number | undefined {
  const at = process.env.DPREP_TEST_NAN_LOSS_AT_STEP;
  return at !== undefined && Number(at) === step ? NaN : undefined;
}

/** The error a non-finite loss or gradient stops training with: the step, the likely cause, what is kept. */
function divergedError(run: TrainRun, state: TrainerState, loss: number, norm: number): UsageError {
  const { o } = run;
  const what = Number.isFinite(loss) ? `the gradient norm is ${norm}` : `the loss is ${loss}`;
  const kept = run.savedAtStep >= 0 ? `${join(o.out, 'last')} holds the last good checkpoint (step ${run.savedAtStep}), unchanged` : 'no checkpoint was saved yet';
  return new UsageError(
    `train: ${what} at step ${state.step + 1} (epoch ${state.epoch + 1}, batch ${state.batchInEpoch + 1}): training diverged and was stopped before that step changed the weights. ` +
      `Likely cause: a learning rate too high for this model and batch (--lr ${o.lr}${o.warmup ? `, --warmup ${o.warmup}` : ', no --warmup'}, --max-grad-norm ${o.maxGradNorm}), or non-finite start weights. ` +
      `${kept}; train again with a lower --lr, without --resume (the learning rate is fixed for a run).`,
  );
}

/** Batch `k` of the epoch's order, its false negatives always found (to count them) and masked by option. */
function batchAt(run: TrainRun, order: readonly number[], epoch: number, k: number) {
  const { o, examples, globalBatch, embedTitle } = run;
  const ids = order.slice(k * globalBatch, (k + 1) * globalBatch);
  return makeBatch(examples, ids, { positives: o.positives, embedTitle, seed: o.seed, epoch, maskFalseNegatives: true });
}

/** Adds a batch's in-batch false negatives (pairs, and whether it has any) to the epoch's counts. */
function countMasked(run: TrainRun, masked: readonly number[] | undefined): void {
  run.masked.pairs += masked?.length ?? 0;
  run.masked.batches += masked && masked.length > 0 ? 1 : 0;
  run.masked.of++;
}
function logMasked(run: TrainRun, epoch: number): void {
  const { pairs, batches, of } = run.masked;
  run.log(`trainer: epoch ${epoch + 1}: ${pairs} in-batch false-negative pair(s) ${run.o.maskFalseNegatives ? 'masked' : 'found, not masked (--no-mask-false-negatives)'}, in ${batches} of ${of} batches`);
  run.masked = { pairs: 0, batches: 0, of: 0 };
}

const runningLoss = (state: TrainerState) => (state.epochLossCount > 0 ? state.epochLossSum / state.epochLossCount : null);
const questionsPerSecond = (run: TrainRun) => run.questionsDone / Math.max((Date.now() - run.started) / 1000, 1e-3);

/** Validates on dev, appends a metrics line, saves last/ (with the resume state) and best/ when it improved. */
async function evaluateAndSave(run: TrainRun, state: TrainerState, trainLoss: number | null): Promise<void> {
  const { o, model, dev } = run;
  if (run.savedAtStep === state.step) return;
  run.savedAtStep = state.step;
  // With replicas, this thread's copy of the model (validation, checkpoints) is refreshed on demand.
  if (run.mainStale) {
    model.assign(run.master);
    run.mainStale = false;
  }
  const row: Record<string, number> = { step: state.step, epoch: state.epoch, lr: o.lr * linearSchedule(Math.max(0, state.step - 1), o.warmup, run.scheduleSteps) };
  if (trainLoss !== null) row['train.loss'] = trainLoss;
  row['train.false_negative_pairs'] = run.masked.pairs; // in this epoch's batches so far; masked unless turned off
  let improved = false;
  if (dev.length > 0) {
    const d = await validate(model, dev, run.globalBatch, { ...o, embedTitle: run.embedTitle });
    row['dev.nll'] = d.nll;
    row['dev.avg_rank'] = d.avgRank;
    for (const [k, v] of Object.entries(d.top)) row[`dev.top${k}`] = v;
    state.lastDev = { nll: d.nll, avgRank: d.avgRank };
    if (!state.best || d.avgRank < state.best.avgRank || (d.avgRank === state.best.avgRank && d.nll < state.best.nll)) {
      state.best = { nll: d.nll, avgRank: d.avgRank, step: state.step };
      improved = true;
    }
  }
  // No timings here: metrics.jsonl is part of the model dir a pipeline hashes, so it must be the same
  // bytes every run (questions/s is in the progress line and the command's metrics, i.e. the run manifest).
  await appendFile(run.metricsFile, JSON.stringify(row) + '\n');
  const qTensors = await model.query.toTensors();
  const encoders = {
    query: { ...run.encoders.query, tensors: qTensors },
    passage: { ...run.encoders.passage, tensors: o.sharedEncoder ? qTensors : await model.passage.toTensors() },
  };
  await saveCheckpoint(join(o.out, 'last'), encoders, { optimizer: run.optimizer.stateTensors(), state });
  if (improved) await saveCheckpoint(join(o.out, 'best'), encoders);
}

interface StartEncoder {
  dir: string;
  config: BertConfig;
  tensors: Map<string, NamedTensor>;
}

/** The encoders training starts from: the given models, or on resume the run's last/ checkpoint. */
async function readStartEncoders(o: TrainOptions): Promise<{ query: StartEncoder; passage: StartEncoder }> {
  const last = o.resume ? join(o.resume, 'last') : undefined;
  const qDir = last ? join(last, 'query_encoder') : o.queryModel;
  const pDir = last ? join(last, o.sharedEncoder ? 'query_encoder' : 'passage_encoder') : (o.passageModel ?? o.queryModel);
  const q = await readModelDir(qDir, 'query');
  const p = o.sharedEncoder ? q : await readModelDir(pDir, 'passage');
  return { query: { dir: qDir, ...q }, passage: { dir: pDir, ...p } };
}

/** The --query-template / --passage-template values, parsed (a bad one is a UsageError before any model loads). */
function parseTemplates(o: TrainOptions): { query?: InputTemplate; passage?: InputTemplate } {
  return {
    query: o.queryTemplate === undefined ? undefined : parseTemplate(o.queryTemplate, '--query-template'),
    passage: o.passageTemplate === undefined ? undefined : parseTemplate(o.passageTemplate, '--passage-template'),
  };
}

/**
 * The tokenizers, cut at the trained lengths (and the model's positions), checked against each
 * config (vocabulary size, pad id) before any work: warnings are logged, a mismatch refused.
 */
async function loadTokenizers(
  o: TrainOptions,
  start: { query: StartEncoder; passage: StartEncoder },
  templates: { query?: InputTemplate; passage?: InputTemplate },
  log: (m: string) => void,
): Promise<{ query: ModelTokenizer; passage: ModelTokenizer }> {
  const one = async (e: StartEncoder, maxLength: number, template?: InputTemplate) => {
    const tok = await loadTokenizer(e.dir, Math.min(maxLength, maxSequenceLength(e.config)), { template });
    for (const warning of checkTokenizerConfig(tok, e.config, join(e.dir, 'config.json'))) log(`trainer: warning: ${warning}`);
    return tok;
  };
  return { query: await one(start.query, o.maxQueryLen, templates.query), passage: await one(start.passage, o.maxPassageLen, templates.passage) };
}

/** The bi-encoder on the start weights. */
function buildModel(tf: TF, o: TrainOptions, start: { query: StartEncoder; passage: StartEncoder }, tokenizers: { query: ModelTokenizer; passage: ModelTokenizer }): BiEncoder {
  const { query: q, passage: p } = start;
  return new BiEncoder(tf, { query: q.config, passage: p.config }, { query: q.tensors, passage: p.tensors }, tokenizers, {
    pooling: o.pooling, normalize: o.normalize, shared: o.sharedEncoder,
  });
}

/** Training records (those without positives skipped and counted) and the dev records. */
async function readTrainingData(o: TrainOptions, log: (m: string) => void): Promise<{ examples: BiEncoderExample[]; dev: BiEncoderExample[] }> {
  const { examples, summary } = await readExamples(o.train, o.hardNegatives, Infinity, o.skipBad);
  for (const [reason, n] of summary.skipped) log(`trainer: skipped ${n} training record(s): ${reason}`);
  if (examples.length === 0) throw new UsageError(`${o.train}: no usable training records (read ${summary.read})`);
  const devRead = o.dev ? await readExamples(o.dev, o.hardNegatives, o.devMaxQuestions, o.skipBad) : undefined;
  for (const [reason, n] of devRead?.summary.skipped ?? []) if (reason.startsWith('bad record')) log(`trainer: skipped ${n} dev record(s): ${reason}`);
  const dev = devRead?.examples ?? [];
  return { examples, dev };
}

/** Starts metrics.jsonl (a resume keeps its lines up to the resumed step) and writes train_config.json. */
async function prepareRunDir(o: TrainOptions, backend: string, resumed: TrainerState | undefined, log: (m: string) => void): Promise<string> {
  const metricsFile = join(o.out, 'metrics.jsonl');
  await mkdir(o.out, { recursive: true });
  if (resumed) {
    await trimMetrics(metricsFile, resumed.step);
    log(`trainer: resumed from ${o.resume} at step ${resumed.step} (epoch ${resumed.epoch + 1}, batch ${resumed.batchInEpoch})`);
  } else {
    await writeFileAtomic(metricsFile, '');
  }
  await writeFileAtomic(join(o.out, 'train_config.json'), JSON.stringify({ ...o, log: undefined, backend }, null, 2) + '\n');
  return metricsFile;
}

/** How the encoders were trained, so encode / eval / mine.dense embed the same way by default. */
const encoderSettings = (o: TrainOptions, role: 'query' | 'passage', embedTitle: boolean, maxLength: number): EncoderSettings => ({
  pooling: o.pooling, normalize: o.normalize, embed_title: embedTitle, max_length: maxLength, role,
  ...(o.queryTemplate !== undefined ? { query_template: o.queryTemplate } : {}),
  ...(o.passageTemplate !== undefined ? { passage_template: o.passageTemplate } : {}),
});

function finalMetrics(run: TrainRun, state: TrainerState): Record<string, number> {
  const metrics: Record<string, number> = {
    'train.loss': state.lastEpochLoss ?? NaN,
    'train.steps': state.step,
    'train.questions_per_s': questionsPerSecond(run),
  };
  if (state.lastDev) {
    metrics['dev.avg_rank'] = state.lastDev.avgRank;
    metrics['dev.nll'] = state.lastDev.nll;
  }
  return metrics;
}

/** Dev NLL (in batches of the training size), DPR's average rank over all dev passages, and top-k accuracy (positive ranked < k). */
export async function validate(
  model: BiEncoder,
  dev: readonly BiEncoderExample[],
  globalBatch: number,
  o: Pick<TrainOptions, 'embedTitle' | 'seed' | 'batchSize'> & { maskFalseNegatives?: boolean },
): Promise<{ nll: number; avgRank: number; top: Record<number, number> }> {
  // The loss's mask applies here too: another question's identical positive neither outranks the positive nor enters the NLL.
  const all = makeBatch(dev, dev.map((_, i) => i), { positives: 'first', embedTitle: o.embedTitle, seed: o.seed, epoch: 0, maskFalseNegatives: o.maskFalseNegatives });
  const masked = new Set(all.masked ?? []);
  const H = model.query.dim;
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
  const ranks = positiveRanks(scores, Q, P, all.positiveIndex, all.masked);
  let nllSum = 0;
  for (let s = 0; s < Q; s += globalBatch) {
    const e = Math.min(s + globalBatch, Q);
    const p0 = all.positiveIndex[s];
    const p1 = e < Q ? all.positiveIndex[e] : P;
    for (let i = s; i < e; i++) {
      let max = -Infinity;
      for (let j = p0; j < p1; j++) if (!masked.has(i * P + j)) max = Math.max(max, scores[i * P + j]);
      let z = 0;
      for (let j = p0; j < p1; j++) if (!masked.has(i * P + j)) z += Math.exp(scores[i * P + j] - max);
      nllSum += -(scores[i * P + all.positiveIndex[i]] - max - Math.log(z));
    }
  }
  const top = Object.fromEntries([1, 5, 20].map((k) => [k, ranks.filter((r) => r < k).length / Q]));
  return { nll: nllSum / Q, avgRank: ranks.reduce((a, b) => a + b, 0) / Q, top };
}
