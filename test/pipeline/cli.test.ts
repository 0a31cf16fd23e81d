import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, FIXTURES } from '../_paths.ts';
import { listTree } from '../../src/pipeline/hash.ts';
import { tempProject } from './_helpers.ts';

const ENV = { ...process.env, DPREP_TEST_COMMANDS: '1', DPREP_QUIET: '1' };

function dprep(args: string[], cwd: string) {
  const res = spawnSync(process.execPath, [CLI, ...args], { cwd, env: ENV, encoding: 'utf8' });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

async function project(): Promise<string> {
  const dir = await tempProject();
  for (const f of ['resume.yaml', 'in.txt']) await copyFile(join(FIXTURES, 'pipeline', f), join(dir, f));
  return dir;
}

/** Lines checkpointed so far by the step's state dir (0 while there is none). */
async function checkpointed(work: string, step: string): Promise<number> {
  const stateRoot = join(work, '.dprep', 'state');
  const dirs = existsSync(stateRoot) ? (await readdir(stateRoot)).filter((d) => d.startsWith(step + '.')) : [];
  for (const d of dirs) {
    try {
      return (JSON.parse(await readFile(join(stateRoot, d, 'progress.json'), 'utf8')) as { lines: string[] }).lines.length;
    } catch {
      // not written yet
    }
  }
  return 0;
}

/** Starts `dprep run` and SIGKILLs it once step `slow` has checkpointed at least `lines` lines. */
async function runAndKill(dir: string, work: string, lines: number): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'run', 'resume.yaml', '--workdir', work], { cwd: dir, env: ENV, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 30_000;
  while ((await checkpointed(work, 'slow')) < lines) {
    assert.ok(Date.now() < deadline, 'the slow step never reached its checkpoint');
    assert.equal(child.exitCode, null, 'the run ended before it could be killed');
    await sleep(10);
  }
  child.kill('SIGKILL');
  await exited;
}

test('cli: kill -9 mid-step, twice, then rerun: same outputs as an uninterrupted run', async () => {
  const dir = await project();
  const clean = dprep(['run', 'resume.yaml', '--workdir', 'clean'], dir);
  assert.equal(clean.code, 0, clean.stderr);

  const work = join(dir, 'killed');
  await runAndKill(dir, work, 5);
  assert.equal(existsSync(join(work, 'slow')), false, 'an interrupted step has no outputs under their final names');
  const status = dprep(['status', 'resume.yaml', '--workdir', 'killed', '--json'], dir);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(JSON.parse(status.stdout), [
    { step: 'first', state: 'fresh', reason: 'outputs match the lockfile' },
    { step: 'slow', state: 'missing', reason: 'never run' },
    { step: 'last', state: 'missing', reason: 'upstream step slow is missing' },
  ]);

  const before = await checkpointed(work, 'slow');
  await runAndKill(dir, work, before + 5);
  const resumed = dprep(['run', 'resume.yaml', '--workdir', 'killed'], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const rows = Object.fromEntries(resumed.stdout.trim().split('\n').slice(1).map((l) => [l.split(/\s+/)[0], l]));
  assert.match(rows.first, /\bcached\b/, 'the finished step is skipped');
  const from = Number(/resumedFrom=(\d+)/.exec(rows.slow)?.[1]);
  assert.ok(from >= before + 5, `slow resumed from its checkpoint (line ${from})`);

  const files = (await listTree(join(dir, 'clean'))).filter((f) => !f.dir && !/^(\.dprep|runs)\//.test(f.path) && f.path !== 'dprep.lock.yaml');
  assert.equal(files.length, 3 + 30 + 3, 'outputs and side files');
  for (const f of files) assert.equal(await readFile(join(work, f.path), 'utf8'), await readFile(join(dir, 'clean', f.path), 'utf8'), f.path);
  assert.equal(await readFile(join(work, 'dprep.lock.yaml'), 'utf8'), await readFile(join(dir, 'clean', 'dprep.lock.yaml'), 'utf8'), 'same lockfile');
  assert.equal((await readdir(join(work, 'runs'))).length, 3, 'one manifest per run, killed runs included');
});

test('cli: a failing step gives a non-zero exit naming the step; bad input keeps exit code 2', async () => {
  const dir = await project();
  const failed = dprep(['run', 'resume.yaml', '--set', 'slow.fail-at=0', '--set', 'slow.delay-ms=0'], dir);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /step "slow" \(debug\.write\) failed: debug\.write: failing on purpose at line 0/);
  assert.match(failed.stdout, /^slow\s+debug\.write\s+failed/m);
  assert.match(failed.stdout, /^last\s+debug\.write\s+not-run/m);
  const bad = dprep(['run', 'resume.yaml', '--set', 'slow.bad-input-at=2', '--set', 'slow.delay-ms=0'], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad input: .*first\.txt, line 3, field "text": bad on purpose \[in step slow \(debug\.write\)\]/);
});

test('cli: validate checks several files and points at lines; dag prints text and Mermaid', async () => {
  const dir = await project();
  const text = await readFile(join(dir, 'resume.yaml'), 'utf8');
  await writeFile(join(dir, 'bad.yaml'), text.replace('lines: 30', 'lines: thirty').replace('out-dir: slow/parts', 'out-dir: slow/parts\n      depth: 3'));
  const ok = dprep(['validate', 'resume.yaml'], dir);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^ok {2}resume\.yaml {2}\(3 steps: first → slow → last\)$/m);
  const bad = dprep(['validate', 'resume.yaml', 'bad.yaml'], dir);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bad\.yaml:15:14: steps\.slow\.with: unknown option "depth" for debug\.write; allowed: input, out, out-dir/);
  assert.match(bad.stderr, /bad\.yaml:16:14: steps\.slow\.with: option "lines": expected a number, got "thirty"/);

  const dag = dprep(['dag', 'resume.yaml'], dir);
  assert.equal(dag.code, 0, dag.stderr);
  assert.match(dag.stdout, /^slow {2}\(debug\.write\) {2}after first\n {2}in {3}input: first\.out\n {2}out {2}out: slow\/lines\.txt\n {2}out {2}out-dir: slow\/parts$/m);
  assert.match(dag.stdout, /```mermaid\nflowchart TD\n/);
  assert.match(dag.stdout, /^ {2}s_slow -->\|out-dir → input\| s_last$/m);
  const mermaid = dprep(['dag', 'resume.yaml', '--format', 'mermaid'], dir);
  assert.deepEqual(mermaid.stdout.trim().split('\n'), [
    'flowchart TD',
    '  s_first["first<br/>debug.write"]',
    '  s_slow["slow<br/>debug.write"]',
    '  s_last["last<br/>debug.write"]',
    '  s_first -->|out → input| s_slow',
    '  s_slow -->|out-dir → input| s_last',
  ]);
});
