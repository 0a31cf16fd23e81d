/**
 * The work-unit contract's writing side for shardable commands (src/util/units.ts): skip a unit
 * already committed, commit one (temp dir, rename, done marker last), and list the units a merge
 * reads, refusing units of another dprep version or key.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { UsageError } from '../util/errors.ts';
import { completeUnits, readUnitDone, unitDir, unitsRoot, UNIT_DONE, type UnitDone, type UnitRange } from '../util/units.ts';
import { DPREP_VERSION } from '../version.ts';

/** Whether unit `r` is already committed with this key and this dprep version (a rerun of it does nothing). */
export function unitAlreadyDone(out: string, r: UnitRange, key: string): boolean {
  const d = readUnitDone(out, r.unit, r.units);
  return d !== undefined && d.key === key && d.version === DPREP_VERSION;
}

/**
 * Commits one unit: `fill` writes its files into a temp dir beside the unit dir, which is renamed
 * into place, then the done marker is written last (atomically): a unit without it is missing.
 */
export async function commitUnit(out: string, r: UnitRange, key: string, fill: (dir: string) => Promise<void>): Promise<string> {
  const dir = unitDir(out, r.unit, r.units);
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  const done: UnitDone = { ...r, version: DPREP_VERSION, key, host: hostname() };
  await writeFileAtomic(join(dir, UNIT_DONE), JSON.stringify(done) + '\n');
  return dir;
}

/**
 * The committed unit dirs of `out` to merge, in unit order: every unit of the largest complete N,
 * all made with `key` by this dprep version (else a UsageError naming the unit); [] when no N is complete.
 */
export async function unitsToMerge(out: string, key: string, command: string): Promise<string[]> {
  const n = await completeUnits(out);
  const dirs: string[] = [];
  for (let u = 0; u < n; u++) {
    const done = readUnitDone(out, u, n)!;
    if (done.key !== key || done.version !== DPREP_VERSION) {
      throw new UsageError(`${command}: unit ${u} of ${n} (${unitDir(out, u, n)}) was made by dprep ${done.version} from other inputs or params (key ${done.key}; dprep ${DPREP_VERSION} with these is ${key}): remove ${unitsRoot(out)} and rerun`);
    }
    dirs.push(unitDir(out, u, n));
  }
  return dirs;
}

let encoderTurn: Promise<unknown> = Promise.resolve();

/**
 * Runs `work` after every earlier `oneEncoderAtATime` work of this process has finished. The local
 * executor runs a step's units concurrently in one process; units that load an encoder (encode,
 * mine dense, eval) take turns: tfjs registers a model's variables by name, so the same model
 * cannot be loaded twice at once, and one JavaScript thread gains nothing from overlapping them.
 * Separate processes (Slurm tasks) are not affected.
 */
export function oneEncoderAtATime<T>(work: () => Promise<T>): Promise<T> {
  const run = encoderTurn.then(work, work);
  encoderTurn = run.catch(() => undefined);
  return run;
}
