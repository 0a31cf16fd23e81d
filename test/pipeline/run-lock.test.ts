import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireRunLock, procStat } from '../../src/pipeline/run-lock.ts';

/**
 * A real zombie: `sh` starts a child that exits soon, then becomes `sleep`, which never
 * reaps it. Resolves with the zombie's pid and the parent (to kill at the end).
 */
async function zombie(): Promise<{ pid: number; parent: ReturnType<typeof spawn> }> {
  const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  for (let i = 0; i < 200 && procStat(pid)?.state !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
  return { pid, parent };
}

const linux = existsSync('/proc/self/stat');

test('run lock: a zombie holder (a kill -9ed run not yet reaped) is dead; the lock is taken over', { skip: !linux && 'needs /proc' }, async () => {
  const { pid, parent } = await zombie();
  try {
    assert.equal(procStat(pid)?.state, 'Z', 'the test process must be a zombie');
    // The signal test alone would call it alive.
    assert.doesNotThrow(() => process.kill(pid, 0));
    const pidFile = join(mkdtempSync(join(tmpdir(), 'dprep-lock-')), 'run.pid');
    writeFileSync(pidFile, `${pid} ${procStat(pid)!.start}\n`);
    const release = await acquireRunLock(pidFile);
    assert.equal(readFileSync(pidFile, 'utf8').split(' ')[0], String(process.pid));
    await release();
    assert.equal(existsSync(pidFile), false);
  } finally {
    parent.kill('SIGKILL');
  }
});

test('run lock: a live holder is refused by pid; the same pid with another start time (recycled) is taken over', { skip: !linux && 'needs /proc' }, async () => {
  const holder = spawn('sleep', ['30']);
  await new Promise((r) => holder.once('spawn', r));
  try {
    const dir = mkdtempSync(join(tmpdir(), 'dprep-lock-'));
    const pidFile = join(dir, 'run.pid');
    const start = procStat(holder.pid!)!.start;
    for (const content of [`${holder.pid} ${start}`, `${holder.pid}`]) {
      writeFileSync(pidFile, content + '\n');
      await assert.rejects(acquireRunLock(pidFile), new RegExp(`another dprep run \\(pid ${holder.pid}\\) is using ${dir.replaceAll('.', '\\.').replace(/\/[^/]*$/, '')}`));
    }
    writeFileSync(pidFile, `${holder.pid} ${Number(start) - 1}\n`);
    const release = await acquireRunLock(pidFile);
    await release();
  } finally {
    holder.kill('SIGKILL');
  }
});

test('run lock: an empty or garbled pid file (killed while writing) is taken over', async () => {
  const pidFile = join(mkdtempSync(join(tmpdir(), 'dprep-lock-')), 'run.pid');
  // A bare pid (no start time) of a process that does not exist: the highest free pid below pid_max.
  let deadPid = 4194303;
  while (existsSync(`/proc/${deadPid}`)) deadPid--;
  for (const garbage of ['', 'abc\n', String(deadPid)]) {
    writeFileSync(pidFile, garbage);
    await (await acquireRunLock(pidFile))();
  }
  assert.equal(existsSync(pidFile), false);
});
