/**
 * Damaged training state is refused, never trained on (issue 15): `train --resume` with a garbled
 * trainer_state.json, a checkpoint file changed since it was saved, non-finite optimizer moments or
 * a bad metrics.jsonl line names the file and how to recover; a metrics line cut short by a kill
 * is dropped. A non-finite loss stops training at its step with last/ left as it was.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '../_paths.ts';
import { initBertTensors } from '../../src/trainer/bert.ts';
import { writeModelDir } from '../../src/trainer/checkpoint.ts';
import { readSafetensors, writeSafetensors } from '../../src/trainer/safetensors.ts';
import { trainBiEncoder, type TrainOptions } from '../../src/trainer/train.ts';
import { InputError, UsageError } from '../../src/util/errors.ts';
import { TEST_BACKEND, tinyConfig } from './_helpers.ts';

const TRAIN = join(FIXTURES, 'trainer', 'squad-bm25.train.jsonl');
const VOCAB = join(FIXTURES, 'models', 'bert-tiny');
let tmp = '';
let run = ''; // a run stopped after 2 steps, checkpointed at each
let options: TrainOptions;

const opts = (model: string, out: string): TrainOptions => ({
  train: TRAIN, queryModel: model, out, batchSize: 16, gradAccum: 1, hardNegatives: 1, positives: 'first',
  epochs: 1, maxSteps: 2, lr: 2e-3, warmup: 0, weightDecay: 0.01, maxGradNorm: 2, maxQueryLen: 24, maxPassageLen: 48,
  embedTitle: true, sharedEncoder: false, pooling: 'cls', normalize: false, backend: TEST_BACKEND, workers: 1, seed: 9, evalEvery: 1,
  devMaxQuestions: 1000, maskFalseNegatives: true, batchSampler: 'shuffle', skipBad: false, log: () => {},
});

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dprep-resume-integrity-'));
  const model = join(tmp, 'init');
  const config = tinyConfig({ vocab_size: 30522, hidden_size: 16, intermediate_size: 32, num_attention_heads: 2, max_position_embeddings: 64, initializer_range: 0.02 });
  await writeModelDir(model, config, initBertTensors(config, 5), VOCAB);
  run = join(tmp, 'run');
  options = opts(model, run);
  await trainBiEncoder(options);
});

/** A copy of the 2-step run with `damage` applied, resumed to step 3. */
async function resumeDamaged(name: string, damage: (dir: string) => Promise<void>): Promise<unknown> {
  const dir = join(tmp, name);
  await cp(run, dir, { recursive: true });
  await damage(dir);
  return trainBiEncoder({ ...options, out: dir, resume: dir, maxSteps: 3 }).then(() => undefined, (err: unknown) => err);
}

async function flipByte(path: string, at?: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[at ?? bytes.length - 3] ^= 0x10;
  await writeFile(path, bytes);
}

/** Drops the checkpoint's recorded hashes, as a checkpoint saved by an older dprep has none. */
async function dropHashes(dir: string): Promise<void> {
  const file = join(dir, 'last', 'trainer_state.json');
  const { files: _f, ...state } = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, JSON.stringify(state));
}

test('trainer_state.json records the sha256 of every other file of last/', async () => {
  const state = JSON.parse(await readFile(join(run, 'last', 'trainer_state.json'), 'utf8'));
  const names = [
    'optimizer.safetensors',
    ...(await readdir(join(run, 'last', 'query_encoder'))).map((f) => `query_encoder/${f}`),
    ...(await readdir(join(run, 'last', 'passage_encoder'))).map((f) => `passage_encoder/${f}`),
  ].sort();
  assert.deepEqual(Object.keys(state.files).sort(), names);
  assert.equal(state.step, 2);
});

const CASES: { what: string; damage: (dir: string) => Promise<void>; file: string; message: RegExp; field?: string }[] = [
  { what: 'a truncated trainer_state.json', damage: (d) => truncate(join(d, 'last', 'trainer_state.json'), 30), file: 'last/trainer_state.json', message: /invalid JSON/ },
  {
    what: 'a trainer_state.json with a garbled field',
    damage: async (d) => {
      const f = join(d, 'last', 'trainer_state.json');
      await writeFile(f, (await readFile(f, 'utf8')).replace(/"batchInEpoch": \d+/, '"batchInEpoch": "two"'));
    },
    file: 'last/trainer_state.json', field: 'batchInEpoch', message: /expected a number >= 0, got "two"/,
  },
  { what: 'a flipped byte in optimizer.safetensors', damage: (d) => flipByte(join(d, 'last', 'optimizer.safetensors')), file: 'last/optimizer.safetensors', message: /differs from the sha256 recorded in last\/trainer_state\.json \(changed: optimizer\.safetensors\)/ },
  { what: 'a truncated optimizer.safetensors', damage: async (d) => truncate(join(d, 'last', 'optimizer.safetensors'), 1000), file: 'last/optimizer.safetensors', message: /differs from the sha256/ },
  { what: 'a flipped byte in the query encoder weights', damage: (d) => flipByte(join(d, 'last', 'query_encoder', 'model.safetensors')), file: 'last/query_encoder/model.safetensors', message: /differs from the sha256/ },
  {
    what: 'an edited passage encoder config.json',
    damage: async (d) => {
      const f = join(d, 'last', 'passage_encoder', 'config.json');
      await writeFile(f, (await readFile(f, 'utf8')).replace('"layer_norm_eps": 1e-12', '"layer_norm_eps": 1e-6'));
    },
    file: 'last/passage_encoder/config.json', message: /differs from the sha256/,
  },
  {
    what: 'a truncated optimizer.safetensors of a checkpoint without hashes',
    damage: async (d) => (await dropHashes(d), truncate(join(d, 'last', 'optimizer.safetensors'), 1000)),
    file: 'last/optimizer.safetensors', message: /do not fit|does not fit/,
  },
  {
    what: 'NaN optimizer moments in a checkpoint without hashes',
    damage: async (d) => {
      await dropHashes(d);
      const f = join(d, 'last', 'optimizer.safetensors');
      const { tensors } = await readSafetensors(f);
      const [name, t] = [...tensors].find(([n]) => n.startsWith('v/'))!;
      t.data[0] = NaN;
      tensors.set(name, t);
      await writeSafetensors(f, tensors);
    },
    file: 'last/optimizer.safetensors', message: /holds non-finite optimizer moments \(NaN at flat index 0\)/,
  },
  {
    what: 'a garbled line in the middle of metrics.jsonl',
    damage: async (d) => {
      const f = join(d, 'metrics.jsonl');
      const lines = (await readFile(f, 'utf8')).split('\n');
      lines[0] = lines[0].slice(0, 20);
      await writeFile(f, lines.join('\n'));
    },
    file: 'metrics.jsonl', message: /line 1.*invalid JSON.*remove or fix that line and resume again/,
  },
];

for (const c of CASES) {
  test(`--resume refuses ${c.what}, naming the file and how to recover`, async () => {
    const err = await resumeDamaged(c.what.replace(/\W+/g, '-'), c.damage);
    const dir = join(tmp, c.what.replace(/\W+/g, '-'));
    assert.ok(err instanceof InputError, `expected an InputError, got ${err}`);
    assert.equal(err.file, join(dir, c.file));
    if (c.field) assert.equal(err.field, c.field);
    assert.match(err.message, c.message);
    if (c.file.startsWith('last/')) assert.match(err.message, /the checkpoint is damaged: train again without --resume/);
  });
}

test('--resume drops a metrics.jsonl line cut short by a kill and continues', async () => {
  const err = await resumeDamaged('cut-metrics', async (d) => {
    const f = join(d, 'metrics.jsonl');
    await writeFile(f, (await readFile(f, 'utf8')) + '{"step":3,"epoch":0,"lr":0.00');
  });
  assert.equal(err, undefined);
  const rows = (await readFile(join(tmp, 'cut-metrics', 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.step), [1, 2, 3]);
});

test('a NaN loss stops training at its step; last/ stays the checkpoint of the step before, and resumes', async () => {
  const out = join(tmp, 'nan');
  process.env.DPREP_TEST_NAN_LOSS_AT_STEP = '3';
  try {
    await assert.rejects(trainBiEncoder({ ...options, out, maxSteps: 4 }), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.match(err.message, /^train: the loss is NaN at step 3 \(epoch 1, batch 3\): training diverged/);
      assert.match(err.message, /Likely cause: a learning rate too high .*--lr 0\.002/);
      assert.match(err.message, new RegExp(`${join(out, 'last').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds the last good checkpoint \\(step 2\\), unchanged`));
      return true;
    });
  } finally {
    delete process.env.DPREP_TEST_NAN_LOSS_AT_STEP;
  }
  // Byte for byte the checkpoint of a run that stopped at step 2 by itself.
  for (const f of ['trainer_state.json', 'optimizer.safetensors', 'query_encoder/model.safetensors', 'passage_encoder/model.safetensors']) {
    assert.ok((await readFile(join(out, 'last', f))).equals(await readFile(join(run, 'last', f))), f);
  }
  const metrics = (await readFile(join(out, 'metrics.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(metrics.length, 2);
  const { steps } = await trainBiEncoder({ ...options, out, resume: out, maxSteps: 3 });
  assert.equal(steps, 3);
});
