/**
 * Side files do not depend on where a run happened (issue 15): the same pipeline run in two
 * workdirs writes byte-identical `<out>.summary.json` / `<out>.mining.json` and the same lockfile,
 * and no side file names the staging dir its step ran in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readPipelineFile } from '../../src/pipeline/schema.ts';
import { planPipeline } from '../../src/pipeline/plan.ts';
import { runPipeline } from '../../src/pipeline/runner.ts';
import { commandRegistry } from '../../src/commands/index.ts';
import { recordedPath } from '../../src/util/summary.ts';
import { read, tempProject, writePipeline } from './_helpers.ts';
import { FIXTURES } from '../_paths.ts';
import { fakeSlurm } from './_fake-slurm.ts';

process.env.DPREP_QUIET = '1';

const PIPELINE = `
name: paths
seed: 13
steps:
  convert:
    uses: convert.squad
    with: { input: squad.json, out: data/squad.dpr.jsonl, corpus: data/squad.corpus.jsonl }
  mine:
    uses: mine.bm25
    with: { examples: '\${steps.convert.outputs.out}', corpus: '\${steps.convert.outputs.corpus}', out: data/stage1.dpr.json, depth: 20, negatives: 3, threads: 1 }
`;

const SIDE_FILES = ['data/squad.dpr.jsonl.summary.json', 'data/stage1.dpr.json.mining.json'];

async function runIn(project: string, workdir: string, file = 'p.yaml', executor?: 'slurm') {
  const lines: string[] = [];
  const plan = planPipeline(await readPipelineFile(join(project, file)), { commands: commandRegistry, workdir });
  const result = await runPipeline(plan, { log: (l) => lines.push(l), ...(executor ? { executor } : {}) });
  assert.equal(result.ok, true, lines.join('\n'));
  const files: Record<string, string> = {};
  for (const f of SIDE_FILES) files[f] = await read(join(plan.workdir, f));
  return { lock: await read(join(plan.workdir, 'dprep.lock.yaml')), files, workdir: plan.workdir };
}

test('pipeline: the same pipeline in two workdirs writes byte-identical side files and lockfiles, naming no staging dir', async () => {
  const project = await tempProject();
  await copyFile(join(FIXTURES, 'quickstart', 'squad-mini-train.json'), join(project, 'squad.json'));
  await writePipeline(project, PIPELINE);
  const a = await runIn(project, join(project, 'work-a'));
  const b = await runIn(project, join(project, 'elsewhere', 'work-b'));
  for (const f of SIDE_FILES) {
    assert.doesNotMatch(a.files[f], /\.dprep[\\/]staging/, f);
    assert.ok(!a.files[f].includes(a.workdir), `${f} names its workdir:\n${a.files[f]}`);
    assert.equal(b.files[f], a.files[f], f);
  }
  assert.equal(b.lock, a.lock);
  // Recorded as meaningful paths: outputs by their final place in the workdir, project files by their place beside the pipeline.
  const mining = JSON.parse(a.files['data/stage1.dpr.json.mining.json']);
  assert.equal(mining.examples, 'data/squad.dpr.jsonl');
  assert.equal(mining.corpus, 'data/squad.corpus.jsonl');
  assert.deepEqual(mining.records.inputs, ['data/squad.dpr.jsonl', 'data/squad.corpus.jsonl']);
  assert.deepEqual(JSON.parse(a.files['data/squad.dpr.jsonl.summary.json']).inputs, ['squad.json']);
});

test('pipeline: mining in units as Slurm array tasks (separate processes) records the same side-file paths as one local run', async () => {
  const project = await tempProject();
  await copyFile(join(FIXTURES, 'quickstart', 'squad-mini-train.json'), join(project, 'squad.json'));
  await writePipeline(project, PIPELINE);
  // The same steps with the mining split into 3 units, each run by a job script through (fake) sbatch.
  await writeFile(join(project, 'units.yaml'), PIPELINE.replace('threads: 1 }', 'threads: 1, units: 3 }').replace('seed: 13', 'seed: 13\nexecutor: { poll: 0.05 }'));
  const fake = await fakeSlurm(project);
  process.env.FAKE_SLURM = fake.state;
  process.env.PATH = `${fake.bin}:${process.env.PATH}`;
  const a = await runIn(project, join(project, 'work-a'));
  const s = await runIn(project, join(project, 'elsewhere', 'work-s'), 'units.yaml', 'slurm');
  assert.ok((await fake.calls()).length >= 1, 'the units went through sbatch');
  for (const f of SIDE_FILES) assert.equal(s.files[f], a.files[f], f);
});

test('recordedPath: a staging path is its final workdir-relative place; outside a pipeline a path stays as given', () => {
  assert.equal(recordedPath('/w/.dprep/staging/mine.0123abcd/data/neg.json'), 'data/neg.json');
  assert.equal(recordedPath('runs/neg.json'), 'runs/neg.json');
  assert.equal(recordedPath('/abs/neg.json'), '/abs/neg.json');
});
