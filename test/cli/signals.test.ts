// SIGINT / SIGTERM / SIGHUP sent to the real CLI mid-work (issue 15): exit 128 + the signal's
// number, no temp file or directory left, nothing under an output's name that was not there
// before, and the rerun gives the bytes of an uninterrupted run. A temp left by a kill -9 is
// removed by the next run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, FIXTURES } from '../_paths.ts';
import { HOST_TAG } from '../../src/io/temps.ts';

const ENV = { ...process.env, DPREP_TEST_COMMANDS: '1', DPREP_QUIET: '1' };
const EXIT: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };
const root = mkdtempSync(join(tmpdir(), 'dprep-signals-'));

function dprep(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: ENV, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file and directory under `dir` (relative paths), hidden ones included. */
function tree(dir: string): string[] {
  const out: string[] = [];
  (function walk(d: string) {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      out.push(relative(dir, p));
      if (statSync(p).isDirectory()) walk(p);
    }
  })(dir);
  return out.sort();
}

const isTemp = (path: string) => /\.(tmp|old)-\d+/.test(path);

/** Starts the CLI, waits until `ready()` (the work is under way), sends `signal`, and returns how it ended. */
async function signalMidWork(args: string[], cwd: string, signal: NodeJS.Signals, ready: () => boolean) {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { cwd, env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
  const deadline = Date.now() + 120_000;
  while (!ready()) {
    assert.equal(child.exitCode, null, `the command ended before it could be signalled:\n${stderr}`);
    assert.ok(Date.now() < deadline, 'the work never got under way');
    await sleep(10);
  }
  child.kill(signal);
  const end = await exited;
  return { ...end, stderr };
}

// A SQuAD file big enough that its records take seconds to write (13 MB, 24k questions).
function bigSquad(path: string): void {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const words = ['alpha', 'beta', 'gamma', 'delta', 'river', 'mountain', 'city', 'king', 'queen', 'music'];
  const data = [];
  for (let a = 0; a < 400; a++) {
    const paragraphs = [];
    for (let p = 0; p < 20; p++) {
      const tokens = Array.from({ length: 150 }, () => words[next() % words.length] + (next() % 1000));
      const context = tokens.join(' ');
      const qas = [0, 1, 2].map((q) => {
        const i = next() % tokens.length;
        const start = tokens.slice(0, i).join(' ').length + (i ? 1 : 0);
        return { id: `${a}-${p}-${q}`, question: `what is ${tokens[i]}?`, answers: [{ text: tokens[i], answer_start: start }] };
      });
      paragraphs.push({ context, qas });
    }
    data.push({ title: `Article ${a}`, paragraphs });
  }
  writeFileSync(path, JSON.stringify({ version: '1.1', data }));
}

const squad = join(root, 'big-squad.json');
bigSquad(squad);
const CONVERT = ['convert', 'squad', '--input', squad, '--out', 'out.jsonl', '--corpus', 'corpus.jsonl'];
const OUTPUTS = ['out.jsonl', 'corpus.jsonl', 'out.jsonl.summary.json'];

test('signals: convert squad stopped mid-write by SIGINT, SIGTERM, SIGHUP exits 130/143/129 leaving no temp and no output; the rerun matches an uninterrupted run', async () => {
  const clean = join(root, 'convert-clean');
  mkdirSync(clean);
  const ref = dprep(CONVERT, clean);
  assert.equal(ref.code, 0, ref.stderr);

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const dir = join(root, `convert-${signal}`);
    mkdirSync(dir);
    // Under way: the records' temp file has bytes in it.
    const writing = () => readdirSync(dir).some((n) => n.startsWith('.out.jsonl.tmp-') && statSync(join(dir, n)).size > 0);
    const r = await signalMidWork(CONVERT, dir, signal, writing);
    assert.equal(r.signal, null, `${signal}: the process handled the signal, it was not killed by it`);
    assert.equal(r.code, EXIT[signal], `${signal}: exit code\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`stopped by ${signal}; removed \\d+ temp`));
    assert.deepEqual(tree(dir), [], `${signal}: nothing left (no temp, no half output)`);

    const rerun = dprep(CONVERT, dir);
    assert.equal(rerun.code, 0, rerun.stderr);
    for (const f of OUTPUTS) assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(clean, f))), `${signal}: ${f} differs from the uninterrupted run`);
    assert.deepEqual(tree(dir), OUTPUTS.slice().sort());
  }
});

test('signals: an existing output survives a signal unchanged (the new version never replaces it half-written)', async () => {
  const dir = join(root, 'convert-existing');
  mkdirSync(dir);
  for (const f of OUTPUTS) writeFileSync(join(dir, f), `old ${f}\n`);
  const writing = () => readdirSync(dir).some((n) => n.startsWith('.out.jsonl.tmp-') && statSync(join(dir, n)).size > 0);
  const r = await signalMidWork(CONVERT, dir, 'SIGTERM', writing);
  assert.equal(r.code, 143, r.stderr);
  assert.deepEqual(tree(dir), OUTPUTS.slice().sort());
  for (const f of OUTPUTS) assert.equal(readFileSync(join(dir, f), 'utf8'), `old ${f}\n`);
});

test('signals: temps a kill -9 left are removed by the next run; those of live processes and other hosts are kept', async () => {
  const dir = join(root, 'convert-kill9');
  mkdirSync(dir);
  const writing = () => readdirSync(dir).some((n) => n.startsWith('.out.jsonl.tmp-') && statSync(join(dir, n)).size > 0);
  const r = await signalMidWork(CONVERT, dir, 'SIGKILL', writing);
  assert.equal(r.signal, 'SIGKILL');
  const left = tree(dir).filter(isTemp);
  assert.ok(left.length >= 1, `kill -9 leaves its temps: ${tree(dir)}`);
  // A live process's temp (this test's pid) and another host's (same dead pid, other tag) must survive the sweep.
  const deadPid = /\.tmp-(\d+)-/.exec(left[0])![1];
  const otherHost = (parseInt(HOST_TAG, 16) ^ 1).toString(16).padStart(4, '0');
  const alive = `.out.jsonl.tmp-${process.pid}-${HOST_TAG}-live01`;
  const foreign = `.out.jsonl.tmp-${deadPid}-${otherHost}-away01`;
  writeFileSync(join(dir, alive), 'x');
  writeFileSync(join(dir, foreign), 'x');
  // A checkpoint-like directory moved aside by an interrupted replace, its target gone: put back, not deleted.
  mkdirSync(join(dir, `last.old-${deadPid}-${HOST_TAG}-aside1`));
  writeFileSync(join(dir, `last.old-${deadPid}-${HOST_TAG}-aside1`, 'state.json'), '{}');

  const rerun = dprep(CONVERT, dir);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.deepEqual(tree(dir), [alive, foreign, 'corpus.jsonl', 'last', 'last/state.json', 'out.jsonl', 'out.jsonl.summary.json'].sort());
});

test('signals: train stopped by SIGTERM after a checkpoint; train --resume ends bit-identical to an uninterrupted run', async () => {
  const dir = join(root, 'train');
  mkdirSync(dir);
  const config = JSON.parse(readFileSync(join(FIXTURES, 'models', 'bert-tiny', 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'small.json'), JSON.stringify({ ...config, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, max_position_embeddings: 128 }));
  const init = dprep(['init-model', '--config', 'small.json', '--tokenizer', join(FIXTURES, 'models', 'bert-tiny'), '--out', 'init'], dir);
  assert.equal(init.code, 0, init.stderr);
  const train = (out: string) => ['train', '--train', join(FIXTURES, 'trainer', 'squad-bm25.train.jsonl'), '--query-model', 'init', '--out', out, '--epochs', '2', '--eval-every', '1', '--max-query-len', '24', '--max-passage-len', '64', '--lr', '0.002', '--workers', '1', '--backend', 'wasm'];

  const whole = dprep(train('whole'), dir);
  assert.equal(whole.code, 0, whole.stderr);

  // Past the second checkpoint: the signal may land while a checkpoint is being replaced.
  const stepOf = () => {
    try {
      return (JSON.parse(readFileSync(join(dir, 'parts', 'last', 'trainer_state.json'), 'utf8')) as { step: number }).step;
    } catch {
      return 0;
    }
  };
  const r = await signalMidWork(train('parts'), dir, 'SIGTERM', () => stepOf() >= 2);
  assert.equal(r.code, 143, r.stderr);
  assert.deepEqual(tree(join(dir, 'parts')).filter(isTemp), [], 'no temp checkpoint left');
  const at = stepOf();
  assert.ok(at >= 2 && at < 14, `stopped mid-run (checkpoint at step ${at} of 14)`);

  const resumed = dprep([...train('parts'), '--resume', 'parts'], dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resumed from .* at step \d+/);
  for (const f of ['query_encoder/model.safetensors', 'passage_encoder/model.safetensors', 'last/optimizer.safetensors']) {
    assert.ok(readFileSync(join(dir, 'parts', f)).equals(readFileSync(join(dir, 'whole', f))), `${f} differs from the uninterrupted run`);
  }
});

test('signals: dprep run stopped by SIGINT mid-step releases the run lock, leaves no temp, and the rerun continues to the same outputs', async () => {
  const dir = join(root, 'pipeline');
  mkdirSync(dir);
  for (const f of ['resume.yaml', 'in.txt']) copyFileSync(join(FIXTURES, 'pipeline', f), join(dir, f));
  const clean = dprep(['run', 'resume.yaml', '--workdir', 'clean'], dir);
  assert.equal(clean.code, 0, clean.stderr);

  const work = join(dir, 'stopped');
  const progress = () => {
    const state = join(work, '.dprep', 'state');
    if (!existsSync(state)) return 0;
    for (const d of readdirSync(state).filter((n) => n.startsWith('slow.'))) {
      try {
        return (JSON.parse(readFileSync(join(state, d, 'progress.json'), 'utf8')) as { lines: string[] }).lines.length;
      } catch {
        // not written yet
      }
    }
    return 0;
  };
  const r = await signalMidWork(['run', 'resume.yaml', '--workdir', 'stopped'], dir, 'SIGINT', () => progress() >= 5);
  assert.equal(r.code, 130, r.stderr);
  assert.deepEqual(tree(work).filter(isTemp), [], 'no temp left');
  assert.equal(existsSync(join(work, '.dprep', 'run.pid')), false, 'the run lock is released');
  assert.equal(existsSync(join(work, 'slow')), false, 'the stopped step has no output under its final name');

  const rerun = dprep(['run', 'resume.yaml', '--workdir', 'stopped'], dir);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stdout, /^slow\s.*resumedFrom=([5-9]|[1-9]\d)/m);
  const outputs = tree(join(dir, 'clean')).filter((p) => !/^(\.dprep|runs)(\/|$)/.test(p) && statSync(join(dir, 'clean', p)).isFile());
  assert.ok(outputs.length > 30, outputs.join(' '));
  for (const f of outputs) assert.ok(readFileSync(join(work, f)).equals(readFileSync(join(dir, 'clean', f))), f);
});
