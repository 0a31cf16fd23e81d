import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildOnce } from '../../src/io/build-once.ts';

const atomicBuild = (dir: string, calls: { n: number }) => async () => {
  calls.n++;
  await sleep(150);
  await mkdir(`${dir}.tmp`, { recursive: true });
  await writeFile(join(`${dir}.tmp`, 'x'), 'built');
  await rename(`${dir}.tmp`, dir);
};

test('buildOnce: concurrent callers build once, the others wait for the directory; the lock is removed', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dprep-build-once-'));
  const dir = join(root, 'sub', 'index');
  const calls = { n: 0 };
  const built = await Promise.all([0, 1, 2, 3].map(() => buildOnce(dir, atomicBuild(dir, calls), { pollMs: 20 })));
  assert.equal(calls.n, 1);
  assert.deepEqual(built.filter(Boolean).length, 1);
  assert.ok(existsSync(join(dir, 'x')));
  assert.ok(!existsSync(`${dir}.lock`));
  assert.equal(await buildOnce(dir, atomicBuild(dir, calls)), false, 'exists: nothing built');
  await rm(root, { recursive: true, force: true });
});

test('buildOnce: a lock left by a dead builder is taken over once stale; a fresh one is waited for; a failed build frees the lock', async () => {
  const root = await mkdtemp(join(tmpdir(), 'dprep-build-once-'));
  const dir = join(root, 'index');
  await mkdir(`${dir}.lock`);
  const old = new Date(Date.now() - 10_000);
  await utimes(`${dir}.lock`, old, old);
  const calls = { n: 0 };
  const lines: string[] = [];
  assert.equal(await buildOnce(dir, atomicBuild(dir, calls), { staleMs: 2000, pollMs: 20, log: (l) => lines.push(l) }), true);
  assert.equal(calls.n, 1);
  assert.ok(lines.some((l) => /taking it over/.test(l)), lines.join('\n'));

  const dir2 = join(root, 'index2');
  await assert.rejects(buildOnce(dir2, async () => Promise.reject(new Error('boom')), { pollMs: 20 }), /boom/);
  assert.ok(!existsSync(`${dir2}.lock`), 'a failed build leaves no lock behind');
  // A live builder refreshes its lock: a waiter with a short staleMs still waits instead of building twice.
  const calls2 = { n: 0 };
  const slow = async () => {
    calls2.n++;
    await sleep(400);
    await mkdir(dir2);
  };
  await Promise.all([buildOnce(dir2, slow, { staleMs: 200, pollMs: 20 }), sleep(30).then(() => buildOnce(dir2, slow, { staleMs: 200, pollMs: 20 }))]);
  assert.equal(calls2.n, 1);
  await rm(root, { recursive: true, force: true });
});
