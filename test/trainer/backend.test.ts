import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../_paths.ts';
import { wasmThreadsWanted } from '../../src/trainer/backend.ts';

const probe = (threads: string) => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/trainer/_thread_probe.ts')], {
    cwd: REPO_ROOT, env: { ...process.env, DPREP_WASM_THREADS: threads, DPREP_QUIET: '1' }, encoding: 'utf8', timeout: 60_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as { threads: number; loss: number; hash: string };
};

test('threaded wasm starts in Node and gives bit-identical gradients to the single-threaded build', () => {
  const one = probe('1');
  const two = probe('2');
  assert.equal(one.threads, 1);
  assert.equal(two.threads, 2, 'the threaded XNNPACK build did not start with 2 threads');
  assert.ok(Number.isFinite(one.loss) && one.loss > 0);
  assert.equal(two.loss, one.loss);
  assert.equal(two.hash, one.hash, 'gradients differ between 1 and 2 threads');
});

test('DPREP_WASM_THREADS: default 1, numbers, auto; bad values are refused', () => {
  const saved = process.env.DPREP_WASM_THREADS;
  try {
    const cases: [string | undefined, number | RegExp][] = [
      [undefined, 1], ['', 1], ['2', 2], ['3', 3], ['64', 8], ['0', /positive integer/], ['1.5', /positive integer/], ['two', /positive integer/],
    ];
    for (const [value, want] of cases) {
      if (value === undefined) delete process.env.DPREP_WASM_THREADS;
      else process.env.DPREP_WASM_THREADS = value;
      if (typeof want === 'number') assert.equal(wasmThreadsWanted(), want, `DPREP_WASM_THREADS=${value}`);
      else assert.throws(() => wasmThreadsWanted(), want, `DPREP_WASM_THREADS=${value}`);
    }
    process.env.DPREP_WASM_THREADS = 'auto';
    assert.ok(wasmThreadsWanted() >= 1);
  } finally {
    if (saved === undefined) delete process.env.DPREP_WASM_THREADS;
    else process.env.DPREP_WASM_THREADS = saved;
  }
});
