import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { initBertTensors } from '../../src/trainer/bert.ts';
import { writeModelDir } from '../../src/trainer/checkpoint.ts';
import { readSafetensors } from '../../src/trainer/safetensors.ts';
import { trainBiEncoder, type TrainOptions } from '../../src/trainer/train.ts';
import { epochOrder, makeBatch, readExamples } from '../../src/trainer/data.ts';
import { RESUME_FIXED, trainFingerprint } from '../../src/trainer/options.ts';
import { readResumeState, trimMetrics } from '../../src/trainer/resume.ts';
import { TEST_BACKEND, tinyConfig } from './_helpers.ts';

const TRAIN = join(FIXTURES, 'trainer', 'squad-bm25.train.jsonl');
const DEV = join(FIXTURES, 'trainer', 'squad-bm25.dev.jsonl');
const VOCAB = join(FIXTURES, 'models', 'bert-tiny');

/** A small random BERT with the real uncased vocabulary (SQuAD text tokenizes for real). */
async function smallModel(): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'dprep-train-')), 'init');
  const config = tinyConfig({ vocab_size: 30522, hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, max_position_embeddings: 128, initializer_range: 0.02, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
  await writeModelDir(dir, config, initBertTensors(config, 5), VOCAB);
  return dir;
}

const base = (model: string, out: string): TrainOptions => ({
  train: TRAIN, dev: DEV, queryModel: model, out, batchSize: 16, gradAccum: 1, hardNegatives: 1, positives: 'first',
  epochs: 3, maxSteps: 0, lr: 2e-3, warmup: 2, weightDecay: 0.01, maxGradNorm: 2, maxQueryLen: 24, maxPassageLen: 64,
  embedTitle: true, sharedEncoder: false, pooling: 'cls', normalize: false, backend: TEST_BACKEND, workers: 0, seed: 9, evalEvery: 0,
  devMaxQuestions: 1000, maskFalseNegatives: true, batchSampler: 'shuffle', skipBad: false, log: () => {},
});

const metricRows = async (out: string) => (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));

test('loss goes down on SQuAD v1.1 dev chunks with BM25 negatives and the model fits its questions; checkpoints in HF layout', async () => {
  const model = await smallModel();
  const out = join(model, '..', 'run');
  // Validation on the training questions: a randomly initialized model trained on 99 questions does
  // not generalize to the 33 held-out ones within seconds (their rank moves by noise), but it must
  // fit the ones it trains on, and validation must see that.
  const { metrics } = await trainBiEncoder({ ...base(model, out), dev: TRAIN, epochs: 4 });
  const rows = await metricRows(out);
  assert.equal(rows.length, 4);
  const trace = rows.map((r) => `${r['train.loss'].toFixed(3)}/${r['dev.avg_rank'].toFixed(1)}`).join(' ');
  assert.ok(rows[3]['train.loss'] < rows[0]['train.loss'] - 0.3, `train loss / avg rank by epoch: ${trace}`);
  assert.ok(rows[3]['dev.avg_rank'] < rows[0]['dev.avg_rank'] - 5, `train loss / avg rank by epoch: ${trace}`);
  for (const k of ['dev.avg_rank', 'dev.nll', 'train.loss']) assert.ok(Number.isFinite(metrics[k]), k);
  for (const dir of ['query_encoder', 'passage_encoder', 'best/query_encoder', 'last/passage_encoder']) {
    for (const f of ['config.json', 'model.safetensors', 'vocab.txt']) assert.ok(existsSync(join(out, dir, f)), `${dir}/${f}`);
  }
  assert.ok(existsSync(join(out, 'last', 'optimizer.safetensors')));
});

// One process (GradCache over 2 micro-batches); 2 replicas swapping embeddings (a shard of 8 is one
// micro-batch); 2 replicas in GradCache mode (shards of 8 in micro-batches of 4).
for (const [workers, batchSize, gradAccum] of [[1, 8, 2], [2, 8, 2], [2, 4, 4]]) {
test(`a resumed run equals an uninterrupted one, bit for bit (${workers} worker(s), ${batchSize}×${gradAccum})`, async () => {
  const model = await smallModel();
  const subset = join(model, '..', 'subset.jsonl');
  await writeFile(subset, (await readFile(TRAIN, 'utf8')).trim().split('\n').slice(0, 40).join('\n') + '\n');
  // 3 steps per epoch of 16 questions, dropout on, sampled positives.
  const opts = { ...base(model, ''), train: subset, epochs: 2, evalEvery: 2, dev: undefined, batchSize, gradAccum, workers, positives: 'sampled' as const };
  const whole = join(model, '..', 'whole');
  const parts = join(model, '..', 'parts');
  const a = await trainBiEncoder({ ...opts, out: whole });
  // A run killed after its step-2 save: the disk holds last/ at step 2 and a metrics line it logged later.
  await trainBiEncoder({ ...opts, out: parts, maxSteps: 2 });
  await writeFile(join(parts, 'metrics.jsonl'), (await readFile(join(parts, 'metrics.jsonl'), 'utf8')) + JSON.stringify({ step: 3, 'train.loss': 9 }) + '\n');
  const b = await trainBiEncoder({ ...opts, out: parts, resume: parts });
  assert.equal(a.steps, 6);
  assert.equal(b.steps, 6);
  assert.equal(a.metrics['train.loss'], b.metrics['train.loss']);
  for (const enc of ['query_encoder', 'passage_encoder']) {
    const x = (await readSafetensors(join(whole, enc, 'model.safetensors'))).tensors;
    const y = (await readSafetensors(join(parts, enc, 'model.safetensors'))).tensors;
    for (const [name, t] of x) assert.deepEqual(y.get(name)!.data, t.data, `${enc} ${name}`);
  }
  // Whole rows, timings included: metrics.jsonl holds none (a pipeline hashes the model dir it sits in).
  const rowsA = await metricRows(whole);
  const rowsB = await metricRows(parts);
  assert.deepEqual(rowsB, rowsA);
  await assert.rejects(trainBiEncoder({ ...opts, out: parts, resume: parts, lr: 1 }), /different training options/);
  await assert.rejects(trainBiEncoder({ ...opts, out: parts, resume: parts, workers: workers + 1 }), /different training options/);
});
}

test('records without positives are skipped and counted; a memory estimate over budget refuses to start', async () => {
  const model = await smallModel();
  const file = join(model, '..', 'mixed.jsonl');
  const lines = (await readFile(TRAIN, 'utf8')).trim().split('\n').slice(0, 6).map((l) => JSON.parse(l));
  lines[1].positive_ctxs = [];
  lines[4].positive_ctxs = [];
  await writeFile(file, lines.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const logs: string[] = [];
  const { steps } = await trainBiEncoder({ ...base(model, join(model, '..', 'skip')), train: file, dev: undefined, epochs: 1, log: (m) => logs.push(m) });
  assert.equal(steps, 1);
  assert.ok(logs.some((l) => /skipped 2 training record\(s\): no positive_ctxs/.test(l)), logs.join('\n'));
  await assert.rejects(
    trainBiEncoder({ ...base(model, join(model, '..', 'oom')), batchSize: 4096, maxPassageLen: 512, maxMemoryGb: 2 }),
    /estimated memory .* exceeds the budget 2\.0 GB.*--grad-accum/,
  );
  // Each replica has its own heap: too many for the free RAM are refused before any starts.
  await assert.rejects(
    trainBiEncoder({ ...base(model, join(model, '..', 'replicas')), workers: 100_000 }),
    /estimated memory of 100000 data-parallel replicas .* exceeds the free RAM .*fewer --workers/,
  );
});

test('trained encoders record how they embed, and loadEncoder follows it (titles ignored when not trained with them)', async () => {
  const { loadEncoder } = await import('../../src/trainer/encoder.ts');
  const model = await smallModel();
  const out = join(model, '..', 'run-settings');
  await trainBiEncoder({ ...base(model, out), embedTitle: false, pooling: 'mean', normalize: true, maxSteps: 1, epochs: 1 });
  const settings = JSON.parse(await readFile(join(out, 'passage_encoder', 'dprep_encoder.json'), 'utf8'));
  assert.deepEqual(settings, { pooling: 'mean', normalize: true, embed_title: false, max_length: 64, role: 'passage' });
  const q = JSON.parse(await readFile(join(out, 'query_encoder', 'dprep_encoder.json'), 'utf8'));
  assert.equal(q.max_length, 24);
  const enc = await loadEncoder(join(out, 'passage_encoder'), { backend: TEST_BACKEND });
  const [withTitle, without] = [await enc.encode([{ title: 'Geology', text: 'Rocks form.' }]), await enc.encode([{ text: 'Rocks form.' }])];
  assert.deepEqual(withTitle, without, 'the title must be ignored by an encoder trained without titles');
  const norm = Math.hypot(...withTitle);
  assert.ok(Math.abs(norm - 1) < 1e-4, `normalized as trained: |v| = ${norm}`);
  enc.dispose();
});

// The options --resume refuses to change, as they were before the declaration carried them.
const FIXED_ON_RESUME = ['train', 'dev', 'batchSize', 'gradAccum', 'hardNegatives', 'positives', 'epochs', 'lr', 'warmup', 'weightDecay', 'maxGradNorm', 'maxQueryLen', 'maxPassageLen', 'embedTitle', 'sharedEncoder', 'pooling', 'normalize', 'workers', 'seed', 'evalEvery', 'devMaxQuestions', 'queryTemplate', 'passageTemplate', 'maskFalseNegatives', 'batchSampler', 'skipBad'];
// A value different from base()'s (dev: unset) for each fixed option.
const CHANGED: Record<string, unknown> = {
  train: DEV, dev: DEV, batchSize: 8, gradAccum: 2, hardNegatives: 0, positives: 'sampled', epochs: 4, lr: 1, warmup: 3, weightDecay: 0,
  maxGradNorm: 1, maxQueryLen: 20, maxPassageLen: 48, embedTitle: false, sharedEncoder: true, pooling: 'mean', normalize: true, workers: 2,
  seed: 10, evalEvery: 5, devMaxQuestions: 10, queryTemplate: 'query: {text}', passageTemplate: 'passage: {title} {text}',
  maskFalseNegatives: false, batchSampler: 'no-duplicates', skipBad: true,
};

test('the resume fingerprint is the JSON of the fixed options, byte for byte as runs made before the declaration stored it', () => {
  assert.deepEqual(RESUME_FIXED, FIXED_ON_RESUME);
  const o = { ...base('m', 'o'), dev: undefined, maxSteps: 1, workers: 1 };
  // Recorded from last/trainer_state.json of a run made by the hand-listed fingerprint (2026-12-02),
  // then the in-batch false-negative options appended (they change the loss: older runs must not resume under them).
  const before = `{"train":${JSON.stringify(TRAIN)},"batchSize":16,"gradAccum":1,"hardNegatives":1,"positives":"first","epochs":3,"lr":0.002,"warmup":2,"weightDecay":0.01,"maxGradNorm":2,"maxQueryLen":24,"maxPassageLen":64,"embedTitle":true,"sharedEncoder":false,"pooling":"cls","normalize":false,"workers":1,"seed":9,"evalEvery":0,"devMaxQuestions":1000,"maskFalseNegatives":true,"batchSampler":"shuffle"}`;
  assert.equal(trainFingerprint(o), before);
  for (const [key, value] of Object.entries({ queryModel: 'x', passageModel: 'y', out: 'z', maxSteps: 7, backend: 'cpu', resume: 'r', maxMemoryGb: 1 })) {
    assert.equal(trainFingerprint({ ...o, [key]: value }), before, `${key} may change on --resume`);
  }
  for (const key of FIXED_ON_RESUME) assert.notEqual(trainFingerprint({ ...o, [key]: CHANGED[key] }), before, key);
});

test('--resume accepts changed free options and refuses each changed fixed option, naming it', async () => {
  const model = await smallModel();
  const out = join(model, '..', 'run-fixed');
  const o = { ...base(model, out), dev: undefined, maxSteps: 1, workers: 1 };
  await trainBiEncoder(o);
  const state = JSON.parse(await readFile(join(out, 'last', 'trainer_state.json'), 'utf8'));
  assert.equal(state.fingerprint, trainFingerprint(o));
  // Free: how far to go, the memory budget, and the start models (a resume reads last/ instead).
  const { steps } = await trainBiEncoder({ ...o, resume: out, maxSteps: 2, maxMemoryGb: 3.5, queryModel: join(model, 'absent') });
  assert.equal(steps, 2);
  for (const key of FIXED_ON_RESUME) {
    const flag = key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    await assert.rejects(trainBiEncoder({ ...o, resume: out, maxSteps: 3, [key]: CHANGED[key] }), (err: Error) => {
      assert.match(err.message, /different training options/);
      assert.match(err.message, new RegExp(`\\(--${flag} [^,]* \\(now `), `${key}: ${err.message}`);
      return true;
    });
  }
});

test('library calls are checked against the declared ranges, as the CLI is', async () => {
  const o = base('m', 'o');
  for (const [key, value, flag] of [['batchSize', 0, 'batch-size'], ['gradAccum', 0, 'grad-accum'], ['workers', -1, 'workers'], ['epochs', 0, 'epochs']] as const) {
    await assert.rejects(trainBiEncoder({ ...o, [key]: value }), new RegExp(`option "${flag}": expected an integer >= \\d, got ${value}`));
  }
});

test('resume state: a run without last/ is refused; metric lines past the resumed step are dropped; a bad line is named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-resume-'));
  await assert.rejects(readResumeState(dir, '{}'), /--resume .*: no last\/trainer_state\.json there/);
  const file = join(dir, 'metrics.jsonl');
  await writeFile(file, '{"step":1,"x":1}\n\n{"step":2}\n{"step":3}\n');
  await trimMetrics(file, 2);
  assert.equal(await readFile(file, 'utf8'), '{"step":1,"x":1}\n{"step":2}\n');
  await writeFile(file, '{"step":1}\n{"step":2\n');
  await assert.rejects(trimMetrics(file, 2), /metrics\.jsonl, line 2.*invalid JSON/);
});

test('in-batch false negatives are counted per epoch in the log and metrics (masked by default, found when off)', async () => {
  const model = await smallModel();
  const { examples } = await readExamples(TRAIN, 1);
  // The expected counts, from the epoch's batches alone (seed 9, batches of 16).
  const expected = (epoch: number, sampler: 'shuffle' | 'no-duplicates') => {
    const order = epochOrder(examples, { seed: 9, epoch, batch: 16, sampler });
    let pairs = 0, batches = 0;
    for (let k = 0; k < order.length; k += 16) {
      const n = makeBatch(examples, order.slice(k, k + 16), { positives: 'first', embedTitle: true, seed: 9, epoch, maskFalseNegatives: true }).masked!.length;
      pairs += n;
      batches += n > 0 ? 1 : 0;
    }
    return { pairs, batches };
  };
  const want = expected(0, 'shuffle');
  assert.ok(want.pairs > 0, 'the fixture has questions sharing a paragraph');
  for (const mask of [true, false]) {
    const lines: string[] = [];
    const out = join(model, '..', `count-${mask}`);
    await trainBiEncoder({ ...base(model, out), dev: undefined, epochs: 1, maskFalseNegatives: mask, log: (m) => lines.push(m) });
    const verb = mask ? 'masked' : 'found, not masked';
    assert.ok(lines.includes(`trainer: epoch 1: ${want.pairs} in-batch false-negative pair(s) ${verb}${mask ? '' : ' (--no-mask-false-negatives)'}, in ${want.batches} of 7 batches`), lines.join('\n'));
    assert.equal((await metricRows(out))[0]['train.false_negative_pairs'], want.pairs);
  }
  const avoided = expected(0, 'no-duplicates');
  assert.ok(avoided.pairs < want.pairs, `no-duplicates batches: ${avoided.pairs} pairs vs ${want.pairs}`);
});
