/**
 * Live temp files and directories, so that nothing dprep writes on the way to an output outlives
 * the process that wrote it:
 * - every temp name carries the writer's pid and host (`.out.jsonl.tmp-PID-HOST-RAND`), and is
 *   registered while it exists (`tempPathFor`, `forgetTemp`);
 * - SIGINT / SIGTERM / SIGHUP (`installSignalCleanup`, the CLI's) remove the registered temps,
 *   put back a directory that `replaceDir` had moved aside, run the interrupt hooks (the run
 *   lock), and exit 128 + the signal's number (130, 143, 129);
 * - a temp left by a process that died without cleaning (kill -9, power loss) is removed by the
 *   next process that writes beside it (`sweepStaleTemps`, once per directory per process):
 *   only temps of this host whose pid is dead or a zombie, never a live writer's.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { constants } from 'node:os';
import { processAlive } from '../util/process.ts';

/** 4 hex digits of the host name: a temp of another host (a shared filesystem) is never judged by its pid here. */
export const HOST_TAG = createHash('sha1').update(hostname()).digest('hex').slice(0, 4);

/** `<name>.tmp-PID-HOST-RAND` (a temp) or `<name>.old-PID-HOST-RAND` (a replaced directory waiting to be deleted). */
const TEMP_NAME = /^(.*)\.(tmp|old)-(\d+)-([0-9a-f]{4})-[0-9a-z]+$/;

const rand = () => Math.random().toString(36).slice(2, 8).padEnd(6, '0');

/** Registered temps (absolute path) → the target a moved-aside directory goes back to, or undefined for a plain temp. */
const live = new Map<string, string | undefined>();
const swept = new Set<string>();
const hooks = new Set<() => void>();

/**
 * A fresh temp path beside `target` (same directory, so a rename is atomic), registered until
 * `forgetTemp`; the directory's stale temps of dead processes are removed first.
 * @example const tmp = tempPathFor('out/train.jsonl'); // 'out/.train.jsonl.tmp-4242-9f3a-k2x8q1'
 */
export function tempPathFor(target: string): string {
  const dir = dirname(target);
  sweepStaleTemps(dir);
  const tmp = join(dir, `.${basename(target)}.tmp-${process.pid}-${HOST_TAG}-${rand()}`);
  live.set(resolve(tmp), undefined);
  return tmp;
}

/**
 * A registered path to move the existing `target` aside to while its replacement is renamed in:
 * a signal in between puts it back, so `target` is never missing.
 */
export function asidePathFor(target: string): string {
  return registerTemp(`${target}.old-${process.pid}-${HOST_TAG}-${rand()}`, target);
}

/**
 * Registers a temp made under a name of the caller's choosing (a signal removes it), or, with
 * `restoreTo`, a directory moved aside from `restoreTo` (a signal moves it back if `restoreTo` is missing).
 */
export function registerTemp(path: string, restoreTo?: string): string {
  live.set(resolve(path), restoreTo === undefined ? undefined : resolve(restoreTo));
  return path;
}

/** The temp at `path` is gone (renamed into place or removed): a signal no longer touches it. */
export function forgetTemp(path: string): void {
  live.delete(resolve(path));
}

/** The temps registered now (absolute paths), for tests and messages. */
export function liveTemps(): string[] {
  return [...live.keys()];
}

/**
 * Runs `hook` (synchronously) when a signal stops the process, before the temps are removed;
 * returns the function that unregisters it.
 * @example const off = onInterrupt(() => rmSync(lockFile)); ... off();
 */
export function onInterrupt(hook: () => void): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/** Removes every registered temp now (a moved-aside directory goes back when its target is missing); returns how many. */
export function removeLiveTemps(): number {
  let n = 0;
  // Asides last: a temp renamed into place must not be mistaken for the target an aside restores.
  const entries = [...live.entries()].sort((a, b) => Number(a[1] !== undefined) - Number(b[1] !== undefined));
  for (const [path, restoreTo] of entries) {
    try {
      if (!existsSync(path)) continue;
      if (restoreTo !== undefined && !existsSync(restoreTo)) renameSync(path, restoreTo);
      else rmSync(path, { recursive: true, force: true });
      n++;
    } catch {
      // Best effort: the next run's sweep removes what is left.
    } finally {
      live.delete(path);
    }
  }
  return n;
}

/**
 * Removes the temps in `dir` that a dead process of this host left (its pid no longer runs, or
 * is a zombie); a moved-aside directory whose target is missing is put back instead. Each
 * directory is swept once per process. Returns the names removed or restored.
 */
export function sweepStaleTemps(dir: string): string[] {
  const abs = resolve(dir);
  if (swept.has(abs)) return [];
  swept.add(abs);
  let names: string[];
  try {
    names = readdirSync(abs);
  } catch {
    return [];
  }
  const done: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || m[4] !== HOST_TAG) continue;
    const pid = Number(m[3]);
    const path = join(abs, name);
    if (live.has(path)) continue;
    if (pid !== process.pid && processAlive(pid)) continue;
    try {
      // `<target>.old-…`: the aside of an interrupted replaceDir; the temp was renamed in or is lost, the old version is whole.
      const target = join(abs, m[1]);
      if (m[2] === 'old' && !existsSync(target)) renameSync(path, target);
      else rmSync(path, { recursive: true, force: true });
      done.push(name);
    } catch {
      // Another process swept it first, or it cannot be removed: leave it.
    }
  }
  return done;
}

let installed = false;

/**
 * On SIGINT, SIGTERM and SIGHUP: run the interrupt hooks, remove the live temps, say so on
 * stderr and exit 128 + the signal's number. Installed by the CLI, once.
 */
export function installSignalCleanup(): void {
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      for (const hook of hooks) {
        try {
          hook();
        } catch {
          // A hook must not keep the process from stopping.
        }
      }
      const removed = removeLiveTemps();
      process.stderr.write(`\ndprep: stopped by ${signal}${removed ? `; removed ${removed} temp file${removed === 1 ? '' : 's'}/dir${removed === 1 ? '' : 's'}` : ''}; nothing half-written was left under an output's name (rerun to continue)\n`);
      process.exit(128 + constants.signals[signal]);
    });
  }
}
