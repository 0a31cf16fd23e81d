/**
 * The Slurm executor on a real Slurm (REQUIRES_SLURM: scripts/run-tests.mjs runs this file only
 * where `sinfo` answers, and .ci/run brings a cluster up with scripts/slurm-up.sh and sets
 * DPREP_REQUIRE_SLURM=1 so it cannot be left out there). Every run goes through the real CLI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../_paths.ts';
import { tempProject } from './_helpers.ts';

const ENV = { ...process.env, DPREP_TEST_COMMANDS: '1', DPREP_QUIET: '1' };
/** In every salt: the controller remembers jobs for an hour, so job names (from the key) must differ from earlier runs'. */
const RUN = `${process.pid}-${Date.now()}`;

function dprep(args: string[], cwd: string) {
  const res = spawnSync(process.execPath, [CLI, ...args], { cwd, env: ENV, encoding: 'utf8', timeout: 300_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

const pipeline = (extra: string, executor = 'executor: { poll: 0.3, max-parallel: 2, time: "00:10:00" }') => `
name: shard
${executor}
steps:
  shard:
    uses: debug.shard
    with: { input: in.txt, out: out/s.txt${extra} }
`;

async function project(yaml: string, lines = 41): Promise<string> {
  const dir = await tempProject();
  await writeFile(join(dir, 'in.txt'), Array.from({ length: lines }, (_, i) => `passage ${i}`).join('\n') + '\n');
  await writeFile(join(dir, 'p.yaml'), yaml);
  return dir;
}

const work = (dir: string) => join(dir, '.dprep', 'shard');
const read = (p: string) => readFile(p, 'utf8');

async function manifest(dir: string): Promise<any> {
  const runs = (await readdir(join(work(dir), 'runs'))).sort();
  return JSON.parse(await read(join(work(dir), 'runs', runs[runs.length - 1])));
}

/** The executor's record of the step (while the step has not finished). */
async function recorded(dir: string): Promise<{ name: string; jobs: { id: string; units: number[] }[] } | undefined> {
  const root = join(work(dir), '.dprep', 'state');
  if (!existsSync(root)) return undefined;
  for (const d of await readdir(root)) {
    const f = join(root, d, 'executor.json');
    if (existsSync(f)) {
      try {
        return JSON.parse(await read(f));
      } catch {
        // being replaced
      }
    }
  }
  return undefined;
}

/** Array jobs the controller knows under this job name (every submission, finished ones too: MinJobAge). */
function submissionsNamed(name: string): string[] {
  const text = execFileSync('scontrol', ['show', 'job', '-o'], { encoding: 'utf8' });
  const ids = text.split('\n').filter((l) => l.includes(` JobName=${name} `)).map((l) => /ArrayJobId=(\d+)/.exec(l)?.[1] ?? /JobId=(\d+)/.exec(l)![1]);
  return [...new Set(ids)];
}

test('slurm: --executor local and --executor slurm give the same lockfile and the same bytes; the manifest has jobs and hosts', async () => {
  const local = await project(pipeline(`, salt: a-${RUN}`));
  assert.equal(dprep(['run', 'p.yaml'], local).code, 0);
  const slurm = await project(pipeline(`, salt: a-${RUN}, units: 4`));
  const r = dprep(['run', 'p.yaml', '--executor', 'slurm'], slurm);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await read(join(work(slurm), 'out', 's.txt')), await read(join(work(local), 'out', 's.txt')));
  assert.equal(await read(join(work(slurm), 'dprep.lock.yaml')), await read(join(work(local), 'dprep.lock.yaml')));
  const m = await manifest(slurm);
  assert.equal(m.executor.kind, 'slurm');
  const ex = m.steps[0].executor;
  assert.equal(ex.jobs.length, 1);
  assert.deepEqual(ex.jobs[0].units, [0, 1, 2, 3]);
  assert.equal(ex.attempts.filter((a: any) => a.outcome === 'done').length, 4);
  assert.ok(ex.hosts.length >= 1, JSON.stringify(ex));
  // A rerun is fresh: nothing submitted.
  const again = dprep(['run', 'p.yaml', '--executor', 'slurm'], slurm);
  assert.match(again.stderr, /fresh, skipped/);
});

test('slurm: a transient fault resubmits exactly that one unit; bad input (exit 2) stops without resubmitting', async () => {
  const dir = await project(pipeline(`, salt: b-${RUN}, units: 4, fail-unit: 3`));
  const r = dprep(['run', 'p.yaml', '--executor', 'slurm'], dir);
  assert.equal(r.code, 0, r.stderr);
  const ex = (await manifest(dir)).steps[0].executor;
  assert.deepEqual(ex.jobs.map((j: any) => j.units), [[0, 1, 2, 3], [3]]);
  assert.deepEqual(ex.attempts.filter((a: any) => a.unit === 3).map((a: any) => `${a.outcome}:${a.counted}`), ['failed:true', 'done:false']);

  const bad = await project(pipeline(`, salt: c-${RUN}, units: 3, bad-unit: 1`));
  const rb = dprep(['run', 'p.yaml', '--executor', 'slurm'], bad);
  assert.equal(rb.code, 2, rb.stderr);
  assert.match(rb.stderr, /unit 1 of 3 \(Slurm job \d+_1\) stopped on bad input \(exit 2\), not retried: .*bad on purpose \(unit 1\)/);
  const rec = await recorded(bad);
  assert.equal(rec?.jobs.length, 1);
  assert.deepEqual(submissionsNamed(rec!.name).length, 1);
  // Nothing of the stopped step is left queued or running.
  assert.equal(execFileSync('squeue', ['-h', '-j', rec!.jobs[0].id, '-t', 'PENDING,RUNNING'], { encoding: 'utf8' }).trim(), '');
});

test('slurm: requeue drill: a task requeued mid-run (scontrol requeue, then StartTime=now) reruns in the same job; no resubmission, same bytes', async () => {
  const ref = await project(pipeline(`, salt: d-${RUN}, sleep-ms: 3000`));
  assert.equal(dprep(['run', 'p.yaml'], ref).code, 0);
  const dir = await project(pipeline(`, salt: d-${RUN}, sleep-ms: 3000, units: 2`));
  const child = spawn(process.execPath, [CLI, 'run', 'p.yaml', '--executor', 'slurm'], { cwd: dir, env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  let task = '';
  for (let i = 0; i < 200 && !task; i++) {
    await sleep(100);
    const rec = await recorded(dir);
    if (!rec?.jobs.length) continue;
    const q = execFileSync('squeue', ['-h', '-r', '-j', rec.jobs[0].id, '-o', '%i %T'], { encoding: 'utf8' });
    task = q.split('\n').find((l) => l.endsWith(' RUNNING'))?.split(' ')[0] ?? '';
  }
  assert.ok(task, 'a task was running');
  // Mid-run, not at launch: a task requeued and restarted within a second on the same node is
  // refused by slurmd ("job credential revoked") and fails for real.
  await sleep(1000);
  execFileSync('scontrol', ['requeue', task]);
  // Requeued work waits BeginTime (about 120 s); once it is pending on that, start it now.
  let held = false;
  for (let i = 0; i < 100 && !held; i++) {
    await sleep(100);
    held = execFileSync('squeue', ['-h', '-j', task, '-o', '%T %r'], { encoding: 'utf8' }).trim() === 'PENDING BeginTime';
  }
  assert.ok(held, 'the requeued task waits on its begin time');
  await sleep(1500);
  execFileSync('scontrol', ['update', `JobId=${task}`, 'StartTime=now']);
  const t0 = Date.now();
  assert.equal(await exited, 0, stderr);
  assert.ok(Date.now() - t0 < 60_000, 'StartTime=now skipped the hold');
  assert.equal(await read(join(work(dir), 'out', 's.txt')), await read(join(work(ref), 'out', 's.txt')));
  const ex = (await manifest(dir)).steps[0].executor;
  assert.equal(ex.jobs.length, 1, `the requeued task ran again in its own job: ${JSON.stringify(ex)}`);
  const unit = Number(task.split('_')[1]);
  const att = ex.attempts.filter((a: any) => a.unit === unit);
  assert.deepEqual(att.map((a: any) => `${a.outcome}:${a.counted}`), ['done:false']);
  assert.match(att[0].detail, /requeued 1×/);
});

test('slurm: kill the runner mid-run and rerun it: it re-attaches; one submission in all', async () => {
  const ref = await project(pipeline(`, salt: e-${RUN}`));
  assert.equal(dprep(['run', 'p.yaml'], ref).code, 0);
  const dir = await project(pipeline(`, salt: e-${RUN}, sleep-ms: 2000, units: 4`));
  const child = spawn(process.execPath, [CLI, 'run', 'p.yaml', '--executor', 'slurm'], { cwd: dir, env: ENV, stdio: 'ignore' });
  let rec: Awaited<ReturnType<typeof recorded>>;
  for (let i = 0; i < 200 && !rec?.jobs.length; i++) {
    await sleep(100);
    rec = await recorded(dir);
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(rec?.jobs.length, 1);
  const st = dprep(['status', 'p.yaml'], dir);
  assert.match(st.stdout, new RegExp(`units \\d/4 done; jobs ${rec!.jobs[0].id}; retries 0`));
  const r = dprep(['run', 'p.yaml', '--executor', 'slurm'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`re-attaching to Slurm job ${rec!.jobs[0].id}`));
  assert.deepEqual(submissionsNamed(rec!.name), [rec!.jobs[0].id], 'the controller saw one submission');
  assert.equal(await read(join(work(dir), 'out', 's.txt')), await read(join(work(ref), 'out', 's.txt')));
});

test('slurm: a whole step (no units) runs as one job, its metrics come back', async () => {
  const dir = await project(`
name: shard
executor: { poll: 0.3 }
steps:
  write:
    uses: debug.write
    with: { input: [in.txt], out: w.txt, lines: 5 }
`);
  const r = dprep(['run', 'p.yaml', '--executor', 'slurm'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /write\s+debug\.write\s+ran\s+\S+\s+lines=5/);
  const ex = (await manifest(dir)).steps[0].executor;
  assert.equal(ex.jobs.length, 1);
  assert.equal(ex.units, undefined);
});

test('slurm: train runs as one job; requeued mid-training (scontrol requeue, StartTime=now) it resumes from its last/ checkpoint and ends bit-identical to a local run', async () => {
  const { writeModelDir } = await import('../../src/trainer/checkpoint.ts');
  const { initBertTensors } = await import('../../src/trainer/bert.ts');
  const { readSafetensors } = await import('../../src/trainer/safetensors.ts');
  const { tinyConfig, TEST_BACKEND } = await import('../trainer/_helpers.ts');
  const { FIXTURES } = await import('../_paths.ts');
  const config = tinyConfig({ vocab_size: 30522, hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, max_position_embeddings: 128, initializer_range: 0.02, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
  const yaml = `name: shard
seed: 4
allow-outside: true
executor: { poll: 0.3, time: "00:20:00" }
steps:
  train:
    uses: train
    with:
      train: ${join(FIXTURES, 'trainer', 'squad-bm25.train.jsonl')}
      query-model: init
      out: run
      batch-size: 16
      epochs: 4
      eval-every: 1
      max-query-len: 24
      max-passage-len: 64
      lr: 0.002
      seed: ${process.pid % 1000}
      backend: ${TEST_BACKEND}
      workers: 1
`;
  const ref = await project(yaml);
  const dir = await project(yaml);
  for (const d of [ref, dir]) await writeModelDir(join(d, 'init'), config, initBertTensors(config, 5), join(FIXTURES, 'models', 'bert-tiny'));
  const local = dprep(['run', 'p.yaml'], ref);
  assert.equal(local.code, 0, local.stderr);

  const child = spawn(process.execPath, [CLI, 'run', 'p.yaml', '--executor', 'slurm'], { cwd: dir, env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const findUnder = async (root: string, test: (p: string) => boolean): Promise<string | undefined> => {
    if (!existsSync(root)) return undefined;
    for (const e of await readdir(root, { withFileTypes: true })) {
      const p = join(root, e.name);
      if (e.isDirectory()) {
        const f = await findUnder(p, test);
        if (f) return f;
      } else if (test(p)) return p;
    }
    return undefined;
  };
  // Requeue once the job runs and has saved a checkpoint (past step 1): the rerun must resume from it.
  let task = '';
  for (let i = 0; i < 1200 && !task; i++) {
    await sleep(100);
    const state = await findUnder(join(work(dir), '.dprep', 'staging'), (p) => p.endsWith(join('last', 'trainer_state.json')));
    if (!state) continue;
    const step = (JSON.parse(await read(state).catch(() => '{}')) as { step?: number }).step ?? 0;
    const rec = await recorded(dir);
    if (step < 2 || !rec?.jobs.length) continue;
    const q = execFileSync('squeue', ['-h', '-r', '-j', rec.jobs[0].id, '-o', '%i %T'], { encoding: 'utf8' });
    task = q.split('\n').find((l) => l.endsWith(' RUNNING'))?.split(' ')[0] ?? '';
  }
  assert.ok(task, `the train job ran and checkpointed: ${stderr}`);
  execFileSync('scontrol', ['requeue', task]);
  let held = false;
  for (let i = 0; i < 100 && !held; i++) {
    await sleep(100);
    held = execFileSync('squeue', ['-h', '-j', task, '-o', '%T %r'], { encoding: 'utf8' }).trim() === 'PENDING BeginTime';
  }
  assert.ok(held, 'the requeued job waits on its begin time');
  await sleep(1500);
  execFileSync('scontrol', ['update', `JobId=${task}`, 'StartTime=now']);
  // The job's log is removed with the state dir when the step finishes: read it while it runs.
  let resumed = '';
  const watch = (async () => {
    while (!resumed) {
      const log = await findUnder(join(work(dir), '.dprep', 'state'), (p) => p.endsWith('.log'));
      const text = log ? await read(log).catch(() => '') : '';
      resumed = /trainer: resumed from .* at step (\d+)/.exec(text)?.[0] ?? '';
      if (!resumed) await sleep(100);
    }
  })();
  const code = await exited;
  await Promise.race([watch, sleep(500)]);
  assert.equal(code, 0, stderr);
  assert.ok(resumed, 'the requeued job resumed from its checkpoint (log line seen)');
  assert.ok(Number(/at step (\d+)/.exec(resumed)![1]) >= 2, resumed);
  const ex = (await manifest(dir)).steps[0].executor;
  assert.equal(ex.jobs.length, 1, `one job, requeued in place: ${JSON.stringify(ex)}`);
  assert.match(execFileSync('scontrol', ['show', 'job', task], { encoding: 'utf8' }), /Restarts=1\b/, 'the controller restarted the job once');
  for (const enc of ['query_encoder', 'passage_encoder']) {
    const a = (await readSafetensors(join(work(ref), 'run', enc, 'model.safetensors'))).tensors;
    const b = (await readSafetensors(join(work(dir), 'run', enc, 'model.safetensors'))).tensors;
    assert.equal(a.size, b.size);
    for (const [name, t] of a) assert.deepEqual(b.get(name)!.data, t.data, `${enc} ${name}`);
  }
});
