/**
 * Builds a shared directory once when several processes (work units on one machine or on Slurm
 * nodes over a shared filesystem) need it at the same time: the first takes a lock directory
 * (mkdir is atomic) and builds, the others wait until the directory appears. The builder keeps
 * the lock fresh; a lock left by a killed builder (not refreshed for `staleMs`) is taken over, so
 * nobody waits forever. `build` must create `dir` atomically (temp + rename): its presence means done.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface BuildOnceOptions {
  /** A lock not refreshed for this long is stale (its builder died); default 60 s. */
  staleMs?: number;
  /** How often the builder refreshes its lock and waiters look; default 1 s. */
  pollMs?: number;
  log?: (message: string) => void;
}

/**
 * Runs `build` unless `dir` exists or another process is building it (then waits for it).
 * Resolves true when this process built it.
 * @example await buildOnce('runs/.neg.jsonl.units/index', () => buildIndexFromCorpus(corpus, dir, {}, log))
 */
export async function buildOnce(dir: string, build: () => Promise<unknown>, opts: BuildOnceOptions = {}): Promise<boolean> {
  const staleMs = opts.staleMs ?? 60_000;
  const pollMs = opts.pollMs ?? 1000;
  const lock = `${dir}.lock`;
  await mkdir(dirname(dir), { recursive: true });
  let waited = false;
  for (;;) {
    if (existsSync(dir)) return false;
    try {
      await mkdir(lock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > staleMs) {
        opts.log?.(`${lock}: not refreshed for ${Math.round(age / 1000)} s, its builder is gone; taking it over`);
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (!waited) opts.log?.(`waiting for another process to build ${dir} (lock ${lock})`);
      waited = true;
      await sleep(pollMs);
      continue;
    }
    // Ours. It may have appeared between the look and the lock.
    await writeFile(join(lock, 'owner'), `${hostname()} ${process.pid}\n`);
    const beat = setInterval(() => {
      const now = new Date();
      utimes(lock, now, now).catch(() => {});
    }, Math.max(50, Math.min(pollMs, staleMs / 4)));
    beat.unref();
    try {
      if (existsSync(dir)) return false;
      await build();
      return true;
    } finally {
      clearInterval(beat);
      await rm(lock, { recursive: true, force: true });
    }
  }
}
