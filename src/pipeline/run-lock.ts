/**
 * One `dprep run` per workdir: a pid file, linked into place only if absent, holding `PID START`, where START is
 * the process's start time (Linux: field 22 of /proc/PID/stat, in clock ticks since boot). A
 * holder counts as alive only while that pid answers, is not a zombie (a `kill -9`ed run
 * awaiting its reaper still answers `kill(pid, 0)`), and started at the recorded time (a
 * recycled pid belongs to someone else).
 */
import { readFileSync } from 'node:fs';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError } from '../util/errors.ts';

/** State letter and start time of a process from /proc (undefined where there is no /proc or no such process). */
export function procStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], start: rest[19] };
}

/** Whether the run recorded as `pid` (started at `start`, when recorded) is still running. */
export function holderAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(pid);
  if (!stat) return true; // no /proc (macOS): the signal's answer is all there is
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return start === undefined || stat.start === start;
}

/**
 * Takes the workdir's run lock, or refuses (UsageError) naming the live holder; a pid file
 * left by a dead, zombie or recycled-pid run is taken over. Returns the release function.
 * @example const release = await acquireRunLock('work/.dprep/run.pid'); try { ... } finally { await release(); }
 */
export async function acquireRunLock(pidFile: string): Promise<() => Promise<void>> {
  const mine = `${process.pid} ${procStat(process.pid)?.start ?? ''}`.trim();
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written aside and hard-linked in (fails if the lock exists): no one ever reads a half-written pid file.
    const tmp = `${pidFile}.tmp-${process.pid}`;
    await writeFile(tmp, mine + '\n');
    try {
      await link(tmp, pidFile);
      await rm(tmp, { force: true });
      return async () => {
        // Only our own lock: a run that took over a lock we lost must keep it.
        if ((await readFile(pidFile, 'utf8').catch(() => '')).trim() === mine) await rm(pidFile, { force: true });
      };
    } catch (err) {
      await rm(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pidText, start] = (await readFile(pidFile, 'utf8').catch(() => '')).trim().split(/\s+/);
      const pid = Number(pidText);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && holderAlive(pid, start)) {
        throw new UsageError(`another dprep run (pid ${pid}) is using ${dirname(dirname(pidFile))}; wait for it or stop it`);
      }
      // Dead holder, or an empty/truncated pid file (a run killed while writing it).
      await rm(pidFile, { force: true });
    }
  }
  throw new UsageError(`cannot take the run lock ${pidFile}; another run keeps taking it`);
}
