/**
 * Executors without a Slurm cluster (issue 14): units planned from the data, N=1 vs N=4 the same
 * bytes and lockfile, retry classification (transient → retried once, bad input → stopped,
 * preempted → not counted), the generated array script, and re-attaching to recorded job ids, with
 * fake sbatch/scontrol/sacct on PATH that run the real job scripts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../_paths.ts';
import { plan, read, run, tempProject, writePipeline } from './_helpers.ts';
import { fakeSlurm } from './_fake-slurm.ts';
import { arrayList, expandList, jobScript, judge, timeLimitSeconds } from '../../src/pipeline/slurm.ts';
import { resolveExecutorSettings } from '../../src/pipeline/executor.ts';
import { pipelineStatus } from '../../src/pipeline/runner.ts';
import { InputError } from '../../src/util/errors.ts';

process.env.DPREP_TEST_COMMANDS = '1';
process.env.DPREP_QUIET = '1';

const shardPipeline = (extra = '', executor = '') => `
name: shard
${executor}
steps:
  shard:
    uses: debug.shard
    with: { input: in.txt, out: out/s.txt${extra} }
`;

async function project(lines = 23): Promise<string> {
  const dir = await tempProject();
  await writeFile(join(dir, 'in.txt'), Array.from({ length: lines }, (_, i) => `record ${i}`).join('\n') + '\n');
  return dir;
}

const lockOf = (dir: string) => read(join(dir, '.dprep', 'shard', 'dprep.lock.yaml'));
const outOf = (dir: string) => read(join(dir, '.dprep', 'shard', 'out', 's.txt'));

test('local executor: N=1, N=4 and a whole run give the same bytes and the same lockfile; units stay out of the key', async () => {
  const results: { lock: string; out: string }[] = [];
  for (const extra of ['', ', units: 1', ', units: 4', ', units: 7']) {
    const dir = await project();
    const file = await writePipeline(dir, shardPipeline(extra, 'executor: { max-parallel: 3 }'));
    const r = await run(file);
    assert.equal(r.ok, true, r.lines.join('\n'));
    results.push({ lock: await lockOf(dir), out: await outOf(dir) });
    if (extra.includes('4')) {
      assert.ok(r.lines.some((l) => l.includes('merged 4 units')), r.lines.join('\n'));
      assert.equal(r.steps[0].executor?.units, 4);
    }
  }
  assert.equal(results[0].out.split('\n').length, 24);
  for (const r of results.slice(1)) {
    assert.equal(r.out, results[0].out);
    assert.equal(r.lock, results[0].lock);
  }
  assert.doesNotMatch(results[0].lock, /units|max-parallel/);
});

test('local executor: a transient fault is retried once; the units already done are not redone', async () => {
  const dir = await project();
  const r = await run(await writePipeline(dir, shardPipeline(', units: 4, fail-unit: 2', 'executor: { retries: 1, max-parallel: 1 }')));
  assert.equal(r.ok, true, r.lines.join('\n'));
  const attempts = r.steps[0].executor!.attempts;
  assert.deepEqual(attempts.filter((a) => a.unit === 2).map((a) => a.outcome), ['failed', 'done']);
  assert.equal(attempts.filter((a) => a.unit !== 2).length, 3, 'other units ran once each');
  const ref = await project();
  await run(await writePipeline(ref, shardPipeline()));
  assert.equal(await outOf(dir), await outOf(ref));
});

test('local executor: bad input stops the step without a retry; retries 0 fails on the first fault', async () => {
  const dir = await project();
  const r = await run(await writePipeline(dir, shardPipeline(', units: 4, bad-unit: 1', 'executor: { retries: 3, max-parallel: 1 }')));
  assert.equal(r.ok, false);
  assert.ok(r.error?.cause instanceof InputError, String(r.error));
  assert.match(r.error!.message, /bad on purpose \(unit 1\)/);
  assert.ok(!r.lines.some((l) => /retry/.test(l)), r.lines.join('\n'));

  const dir2 = await project();
  const r2 = await run(await writePipeline(dir2, shardPipeline(', units: 4, fail-unit: 0', 'executor: { retries: 0 }')));
  assert.equal(r2.ok, false);
  assert.match(r2.error!.message, /unit 0 of 4 failed 1 times \(retries: 0\)/);
});

test('executor settings: checked like options, --set executor.KEY overrides, a step may not pick its unit', async () => {
  const dir = await project();
  const file = await writePipeline(dir, shardPipeline(', units: 2', 'executor: { time: "00:30:00", retries: 2 }'));
  const p = await plan(file, { overrides: ['executor.max-parallel=8', 'executor.partition=gpu_p2'] });
  assert.equal(p.executor.maxParallel, 8);
  assert.equal(p.executor.partition, 'gpu_p2');
  assert.equal(p.executor.retries, 2);
  assert.equal(p.steps[0].units, 2);
  assert.equal('units' in p.steps[0].params, false);
  await assert.rejects(plan(file, { overrides: ['executor.retries=-1'] }), /executor: option "retries": expected an integer >= 0, got -1/);
  await assert.rejects(plan(file, { overrides: ['executor.nodes=2'] }), /no executor setting "nodes"/);
  await assert.rejects(plan(await writePipeline(dir, shardPipeline(', unit: 1'), 'q.yaml')), /with\.unit: the executor picks the unit/);
});

test('slurm script: array of missing units with %P, time, requeue, checkpoint signal, logs in the state dir', () => {
  const settings = resolveExecutorSettings({ time: '00:20:00', 'max-parallel': 3, partition: 'gpu', account: 'abc', qos: 'qos_t3', gpus: 1, cpus: 8, mem: '40G' }, 'x');
  const s = jobScript({ name: 'dprep-enc-1234', stateDir: '/w/.dprep/state/enc.ab', cwd: '/w', argv: ['encode', '--out', "/w/it's"], array: [0, 1, 2, 5, 7, 8], units: 9, settings });
  assert.ok(s.startsWith('#!/bin/bash\n'));
  for (const line of ['--array=0-2,5,7-8%3', '--time=00:20:00', '--requeue', '--signal=B:USR1@120', '--output=/w/.dprep/state/enc.ab/logs/%A_%a.log', '--partition=gpu', '--account=abc', '--qos=qos_t3', '--gpus=1', '--cpus-per-task=8', '--mem=40G']) {
    assert.ok(s.includes(`#SBATCH ${line}\n`), `${line} in\n${s}`);
  }
  assert.match(s, /'encode' '--out' '\/w\/it'\\''s' --unit "\$SLURM_ARRAY_TASK_ID" --units 9 &/);
  assert.match(s, /scontrol requeue "\$tag"/, 'requeues its own task, not the whole array');
  // A short limit gets its signal a tenth of the way before the end, not 120 s (which would be at once).
  assert.match(jobScript({ name: 'n', stateDir: '/s', cwd: '/', argv: [], array: [0], settings: resolveExecutorSettings({ time: '5' }, 'x') }), /--signal=B:USR1@30\n/);
  assert.deepEqual(expandList('0-2,5%4'), [0, 1, 2, 5]);
  assert.deepEqual(expandList('[3-4]'), [3, 4]);
  assert.equal(arrayList([5, 0, 2, 1]), '0-2,5');
  assert.equal(timeLimitSeconds('1-02:00:00'), 93600);
  assert.equal(timeLimitSeconds('10'), 600);
  assert.equal(timeLimitSeconds('10:30'), 630);
  assert.throws(() => timeLimitSeconds('soon'), /Slurm time limit/);
});

test('slurm classification: exit 2 stops, failures/OOM/timeouts count, preemption/node failure/lost do not', () => {
  assert.deepEqual(judge({ unit: 0, state: 'FAILED', exit: 2 }), { outcome: 'bad-input', counted: false });
  assert.deepEqual(judge({ unit: 0, state: 'FAILED', exit: 1 }), { outcome: 'failed', counted: true });
  assert.deepEqual(judge({ unit: 0, state: 'OUT_OF_MEMORY', exit: 0 }), { outcome: 'out-of-memory', counted: true });
  assert.deepEqual(judge({ unit: 0, state: 'TIMEOUT', exit: 0 }), { outcome: 'timeout', counted: true });
  assert.deepEqual(judge({ unit: 0, state: 'COMPLETED', exit: 0 }), { outcome: 'failed', counted: true }, 'exit 0 without a committed unit is a failure');
  assert.deepEqual(judge({ unit: 0, state: 'PREEMPTED' }), { outcome: 'preempted', counted: false });
  assert.deepEqual(judge({ unit: 0, state: 'NODE_FAIL' }), { outcome: 'node-fail', counted: false });
  assert.deepEqual(judge({ unit: 0, state: 'LOST' }), { outcome: 'lost', counted: false });
});

async function withFake(dir: string) {
  const fake = await fakeSlurm(dir);
  process.env.FAKE_SLURM = fake.state;
  if (!process.env.PATH!.startsWith(fake.bin)) process.env.PATH = `${fake.bin}:${process.env.PATH}`;
  return fake;
}

test('slurm executor (fake sbatch): same bytes as local; a transient fault resubmits exactly that unit; a preempted unit is resubmitted without using the budget', async () => {
  const ref = await project();
  // The same step run whole, here: the fault is a param (in the key) but fires only in a unit.
  await run(await writePipeline(ref, shardPipeline(', fail-unit: 1')));
  const dir = await project();
  const fake = await withFake(dir);
  await writeFile(join(fake.state, 'preempt-3'), '');
  const r = await run(await writePipeline(dir, shardPipeline(', units: 4, fail-unit: 1', 'executor: { retries: 1, poll: 0.05 }')), {}, { executor: 'slurm' });
  assert.equal(r.ok, true, r.lines.join('\n'));
  assert.equal(await outOf(dir), await outOf(ref));
  const rep = r.steps[0].executor!;
  assert.deepEqual(rep.jobs.map((j) => j.units), [[0, 1, 2, 3], [1, 3]]);
  assert.equal((await fake.calls()).length, 2);
  const byUnit = (u: number) => rep.attempts.filter((a) => a.unit === u).map((a) => `${a.outcome}:${a.counted}`);
  assert.deepEqual(byUnit(1), ['failed:true', 'done:false']);
  assert.deepEqual(byUnit(3), ['preempted:false', 'done:false']);
  assert.deepEqual(rep.hosts, ['fake']);
  // Executor settings stay out of the lockfile: the lock equals a local run's with different settings.
  assert.equal(await lockOf(dir), await lockOf(ref));
});

test('slurm executor (fake sbatch): a unit committed while its task is still COMPLETING is one done attempt (with its requeue), and the lingering task is cancelled', async () => {
  const dir = await project();
  const fake = await withFake(dir);
  await writeFile(join(fake.state, 'linger-1'), '');
  const r = await run(await writePipeline(dir, shardPipeline(', units: 2', 'executor: { poll: 0.05 }')), {}, { executor: 'slurm' });
  assert.equal(r.ok, true, r.lines.join('\n'));
  const rep = r.steps[0].executor!;
  const att = rep.attempts.filter((a) => a.unit === 1);
  assert.deepEqual(att.map((a) => `${a.outcome}:${a.counted}`), ['done:false']);
  assert.match(att[0].detail ?? '', /requeued 1×/);
  assert.equal((await fake.calls()).length, 1, 'no resubmission');
  assert.equal((await read(join(fake.state, 'scancel.calls'))).trim(), rep.jobs[0].id);
});

test('slurm executor (fake sbatch): exit 2 in a unit stops the step with the log, no resubmission', async () => {
  const dir = await project();
  const fake = await withFake(dir);
  const r = await run(await writePipeline(dir, shardPipeline(', units: 3, bad-unit: 2', 'executor: { retries: 5, poll: 0.05 }')), {}, { executor: 'slurm' });
  assert.equal(r.ok, false);
  assert.ok(r.error?.cause instanceof InputError);
  assert.match(r.error!.message, /unit 2 of 3 \(Slurm job \d+_2\) stopped on bad input \(exit 2\), not retried/);
  assert.equal((await fake.calls()).length, 1);
});

test('slurm executor (fake sbatch): a killed runner re-attaches to its recorded job instead of submitting again; status shows the jobs', async () => {
  const dir = await project();
  const fake = await withFake(dir);
  await writeFile(join(fake.state, 'hold'), '');
  const file = await writePipeline(dir, shardPipeline(', units: 4', 'executor: { poll: 0.05 }'));
  const child = spawn(process.execPath, [CLI, 'run', file, '--executor', 'slurm'], { cwd: dir, env: process.env, stdio: 'ignore' });
  const stateRoot = join(dir, '.dprep', 'shard', '.dprep', 'state');
  let recorded: { jobs: { id: string }[] } | undefined;
  for (let i = 0; i < 300 && !recorded?.jobs.length; i++) {
    await sleep(100);
    const dirs = existsSync(stateRoot) ? await readdir(stateRoot) : [];
    const f = dirs.length ? join(stateRoot, dirs[0], 'executor.json') : '';
    if (f && existsSync(f)) recorded = JSON.parse(await readFile(f, 'utf8'));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(recorded?.jobs.length, 1, 'the job id was recorded while the job was pending');
  const id = recorded!.jobs[0].id;

  const status = await pipelineStatus(await plan(file));
  assert.deepEqual(status[0].progress, { units: 4, done: 0, jobs: [id], retries: 0, requeues: 0 });

  // The job runs while no runner watches it; the rerun finds it by its id.
  fake.runHeldJob(id);
  const r = await run(file, {}, { executor: 'slurm' });
  assert.equal(r.ok, true, r.lines.join('\n'));
  assert.ok(r.lines.some((l) => l.includes(`re-attaching to Slurm job ${id}`)), r.lines.join('\n'));
  assert.equal((await fake.calls()).length, 1, 'no second sbatch');
  assert.deepEqual(r.steps[0].executor!.jobs.map((j) => j.id), [id]);
});
