/**
 * Shardable real commands in a pipeline (issue 14): the squad BM25 pipeline run whole and with
 * `--set executor.units=4` (local executor) writes the same lockfile and the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readPipelineFile } from '../../src/pipeline/schema.ts';
import { planPipeline } from '../../src/pipeline/plan.ts';
import { runPipeline } from '../../src/pipeline/runner.ts';
import { commandRegistry } from '../../src/commands/index.ts';
import { read, tempProject, writePipeline } from './_helpers.ts';
import { FIXTURES } from '../_paths.ts';

process.env.DPREP_QUIET = '1';

const PIPELINE = `
name: units
seed: 13
steps:
  convert:
    uses: convert.squad
    with: { input: squad.json, out: squad.dpr.jsonl, corpus: squad.corpus.jsonl }
  index:
    uses: index.bm25
    with: { corpus: '\${steps.convert.outputs.corpus}', out: squad.bm25 }
  mine:
    uses: mine.bm25
    with: { examples: '\${steps.convert.outputs.out}', corpus: '\${steps.convert.outputs.corpus}', out: stage1.dpr.json, depth: 30, negatives: 4, strategy: random, threads: 1 }
  mine-indexed:
    uses: mine.bm25
    with: { examples: '\${steps.convert.outputs.out}', index: '\${steps.index.outputs.out}', out: stage1b.dpr.jsonl, depth: 20, negatives: 3, threads: 1 }
  search:
    uses: search.bm25
    with: { index: '\${steps.index.outputs.out}', queries: '\${steps.convert.outputs.out}', out: run.trec, k: 11, threads: 1 }
`;

// One project for both runs, the shardable steps forced in the second: reports name their inputs by
// path, and the BM25 index header records the corpus file's mtime, so convert and index are kept.
async function runOnce(dir: string, overrides: string[], force?: string[], name = 'p.yaml') {
  const file = join(dir, name);
  const lines: string[] = [];
  const plan = planPipeline(await readPipelineFile(file), { commands: commandRegistry, overrides });
  const result = await runPipeline(plan, { log: (l) => lines.push(l), force });
  assert.equal(result.ok, true, lines.join('\n'));
  const work = plan.workdir;
  const files: Record<string, string> = {};
  for (const name of (await readdir(work)).sort()) if (/\.(json|jsonl|trec)$/.test(name)) files[name] = await read(join(work, name));
  return { lock: await read(join(work, 'dprep.lock.yaml')), files, lines, result };
}

test('pipeline: mine bm25 (with and without an index step) and search bm25 with executor.units=4 give the lockfile and bytes of a whole run', async () => {
  const dir = await tempProject();
  await copyFile(join(FIXTURES, 'quickstart', 'squad-mini-train.json'), join(dir, 'squad.json'));
  await writePipeline(dir, PIPELINE);
  const whole = await runOnce(dir, []);
  const sharded = await runOnce(dir, ['executor.units=4', 'executor.max-parallel=2'], ['mine', 'mine-indexed', 'search']);
  assert.deepEqual(sharded.result.steps.filter((s) => s.status !== 'cached').map((s) => s.step).sort(), ['mine', 'mine-indexed', 'search']);
  assert.ok(Object.keys(whole.files).includes('stage1.dpr.json.mining.json'), Object.keys(whole.files).join(', '));
  assert.deepEqual(Object.keys(sharded.files), Object.keys(whole.files));
  for (const [name, text] of Object.entries(whole.files)) assert.equal(sharded.files[name], text, name);
  assert.equal(sharded.lock, whole.lock);
  for (const step of ['mine', 'mine-indexed', 'search']) {
    assert.equal(sharded.result.steps.find((s) => s.step === step)?.executor?.units, 4, step);
    assert.ok(sharded.lines.some((l) => l.includes(`${step}: `) && /merged 4 units/.test(l)), `${step} merged its units:\n${sharded.lines.join('\n')}`);
  }
});

const DENSE = `
name: dense-units
seed: 13
steps:
  convert:
    uses: convert.squad
    with: { input: squad.json, out: squad.dpr.jsonl, corpus: squad.corpus.jsonl }
  model:
    uses: init-model
    with: { config: bert-tiny/config.json, vocab: bert-tiny, out: model, seed: 2 }
  encode:
    uses: encode
    with: { model: '\${steps.model.outputs.out}', corpus: '\${steps.convert.outputs.corpus}', out: emb, batch: 16, shard-rows: 32, max-length: 48 }
  dense:
    uses: mine.dense
    with: { query-model: '\${steps.model.outputs.out}', embeddings: '\${steps.encode.outputs.out}', examples: '\${steps.convert.outputs.out}', corpus: '\${steps.convert.outputs.corpus}', out: stage2.dpr.jsonl, depth: 20, negatives: 3, strategy: random, batch: 40, search: exact }
  eval:
    uses: eval
    with: { model: '\${steps.model.outputs.out}', embeddings: '\${steps.encode.outputs.out}', examples: '\${steps.convert.outputs.out}', corpus: '\${steps.convert.outputs.corpus}', k: [1, 5], out: metrics.json, run-out: dev.trec, search: exact }
`;

test('pipeline: encode, mine dense and eval with executor.units=3 (units running two at a time in one process) give the lockfile and bytes of a whole run', async () => {
  const dir = await tempProject();
  await copyFile(join(FIXTURES, 'quickstart', 'squad-mini-train.json'), join(dir, 'squad.json'));
  await mkdir(join(dir, 'bert-tiny'));
  for (const f of ['config.json', 'vocab.txt']) await copyFile(join(FIXTURES, 'models', 'bert-tiny', f), join(dir, 'bert-tiny', f));
  await writePipeline(dir, DENSE, 'dense.yaml');
  const log = console.log;
  console.log = () => {};
  try {
    const whole = await runOnce(dir, [], undefined, 'dense.yaml');
    const sharded = await runOnce(dir, ['executor.units=3', 'executor.max-parallel=2', 'executor.retries=0'], ['encode', 'dense', 'eval'], 'dense.yaml');
    assert.deepEqual(sharded.result.steps.filter((s) => s.status !== 'cached').map((s) => s.step).sort(), ['dense', 'encode', 'eval']);
    assert.ok(Object.keys(whole.files).includes('metrics.json') && Object.keys(whole.files).includes('dev.trec'), Object.keys(whole.files).join(', '));
    for (const [name, text] of Object.entries(whole.files)) assert.equal(sharded.files[name], text, name);
    assert.equal(sharded.lock, whole.lock);
    for (const step of ['encode', 'dense', 'eval']) assert.equal(sharded.result.steps.find((s) => s.step === step)?.executor?.units, 3, step);
  } finally {
    console.log = log;
  }
});
