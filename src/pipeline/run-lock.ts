/**
 * One `dprep run` per workdir: a pid file, linked into place only if absent, holding `PID START`, where START is
 * the process's start time (Linux: field 22 of /proc/PID/stat, in clock ticks since boot). A
 * holder counts as alive only while that pid answers, is not a zombie (a `kill -9`ed run
 * awaiting its reaper still answers `kill(pid, 0)`), and started at the recorded time (a
 * recycled pid belongs to someone else).
 */
import { readFileSync, rmSync } from 'node:fs';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError } from '../util/errors.ts';
import { procStat, processAlive as holderAlive } from '../util/process.ts';
import { forgetTemp, onInterrupt, tempPathFor } from '../io/temps.ts';

export { procStat } from '../util/process.ts';

/**
 * Takes the workdir's run lock, or refuses (UsageError) naming the live holder; a pid file
 * left by a dead, zombie or recycled-pid run is taken over. Returns the release function.
 * @example const release = await acquireRunLock('work/.dprep/run.pid'); try { ... } finally { await release(); }
 */
export async function acquireRunLock(pidFile: string): Promise<() => Promise<void>> {
  const mine = `${process.pid} ${procStat(process.pid)?.start ?? ''}`.trim();
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written aside and hard-linked in (fails if the lock exists): no one ever reads a half-written pid file.
    const tmp = tempPathFor(pidFile);
    await writeFile(tmp, mine + '\n');
    try {
      await link(tmp, pidFile);
      await rm(tmp, { force: true });
      forgetTemp(tmp);
      // Only our own lock: a run that took over a lock we lost must keep it.
      const ours = () => {
        try {
          return readFileSync(pidFile, 'utf8').trim() === mine;
        } catch {
          return false;
        }
      };
      // A signal stops the run: the lock goes with it (a dead holder would be taken over anyway, but not be named as one).
      const off = onInterrupt(() => ours() && rmSync(pidFile, { force: true }));
      return async () => {
        off();
        if (ours()) await rm(pidFile, { force: true });
      };
    } catch (err) {
      await rm(tmp, { force: true });
      forgetTemp(tmp);
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
