/**
 * Work units of a shardable command (issue 14): the split comes from the data and the unit count
 * only, so the number of machines changes only how many units run at once.
 *
 * Contract shared by the commands (which do one unit's work and merge) and the executors (which
 * decide what to submit and trust only committed units):
 * - unit i of N covers records [i*U, min((i+1)*U, n)) with U = ceil(n / N); a unit may be empty;
 * - a unit's output is the directory unitDir(out, i, N), written under a temp name, renamed, and
 *   finished by UNIT_DONE (JSON: UnitDone) written last, atomically: a unit without it is missing;
 * - the merge (the command run without --unit) reads units 0..N-1 in order.
 *
 * @example
 * unitRange(10, 3, 4)  // { unit: 3, units: 4, start: 9, end: 10 }
 * unitDir('runs/emb', 3, 64)  // 'runs/.emb.units/unit-00003-of-00064'
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UsageError } from './errors.ts';

export interface UnitRange {
  unit: number;
  units: number;
  /** First record (0-based, inclusive). */
  start: number;
  /** One past the last record. */
  end: number;
}

/** What a committed unit's UNIT_DONE holds: enough to refuse merging units of other runs. */
export interface UnitDone {
  unit: number;
  units: number;
  start: number;
  end: number;
  /** dprep version and backend that made the unit: a merge refuses a mix. */
  version: string;
  backend?: string;
  /** Hash of the command's params that decide the bytes (inputs' content, options): a merge refuses a mix. */
  key: string;
  host?: string;
}

export const UNIT_DONE = 'unit.done.json';

/** The options a shardable command takes (spread into its options). */
export const UNIT_OPTIONS = {
  unit: { type: 'integer', min: 0, help: 'do only this work unit (0-based) of --units, into a unit directory beside --out' },
  units: { type: 'integer', min: 1, help: 'how many units the work is split into (by record range); with --unit' },
} as const;

/** Records [start, end) of unit `unit` of `units` over n records. */
export function unitRange(n: number, unit: number, units: number): UnitRange {
  if (!Number.isInteger(units) || units < 1) throw new UsageError(`--units must be an integer >= 1 (got ${units})`);
  if (!Number.isInteger(unit) || unit < 0 || unit >= units) throw new UsageError(`--unit must be in 0..${units - 1} (got ${unit})`);
  const size = Math.ceil(n / units);
  const start = Math.min(n, unit * size);
  return { unit, units, start, end: Math.min(n, start + size) };
}

/**
 * Whether unit `r` counts a bad record (--skip-bad) met after `before` good records: the unit of
 * the good record just before it (unit 0 for bad records ahead of the first), so each bad record is
 * counted by exactly one unit and the units' counts add up to a whole run's. Ranges are over good
 * records only (countDprRecords with skipBad), the positions a whole run numbers records by.
 * @example ownsBadRecord({ unit: 1, start: 5, end: 10 }, 10) // true: after the unit's last record
 */
export function ownsBadRecord(r: { unit: number; start: number; end: number }, before: number): boolean {
  return before === 0 ? r.unit === 0 : r.start < before && before <= r.end;
}

/**
 * `onBad` for a unit that reads past its own range: passes on only the bad records it owns
 * (ownsBadRecord, `position()` good records read so far); a whole run (no range) passes on all.
 */
export function unitOnBad<E>(range: { unit: number; start: number; end: number } | undefined, position: () => number, onBad: ((err: E) => void) | undefined): ((err: E) => void) | undefined {
  return onBad && range ? (err: E) => { if (ownsBadRecord(range, position())) onBad(err); } : onBad;
}

/** Every unit's range; together they cover [0, n) exactly once, in order. */
export function planUnits(n: number, units: number): UnitRange[] {
  const out: UnitRange[] = [];
  for (let i = 0; i < units; i++) out.push(unitRange(n, i, units));
  return out;
}

const pad = (i: number) => String(i).padStart(5, '0');

/** Folder that holds every unit of `out` (a hidden sibling of the output). */
export function unitsRoot(out: string): string {
  return join(dirname(out), `.${basename(out)}.units`);
}

/** The committed directory of unit `unit` of `units` for output `out`. */
export function unitDir(out: string, unit: number, units: number): string {
  return join(unitsRoot(out), `unit-${pad(unit)}-of-${pad(units)}`);
}

/** The unit's done marker, or undefined when the unit is not committed (missing or unreadable). */
export function readUnitDone(out: string, unit: number, units: number): UnitDone | undefined {
  const file = join(unitDir(out, unit, units), UNIT_DONE);
  if (!existsSync(file)) return undefined;
  try {
    const d = JSON.parse(readFileSync(file, 'utf8')) as UnitDone;
    return d.unit === unit && d.units === units ? d : undefined;
  } catch {
    return undefined;
  }
}

/** Units of `units` not yet committed, in order: what an executor (re)submits. */
export function missingUnits(out: string, units: number): number[] {
  const missing: number[] = [];
  for (let i = 0; i < units; i++) if (!readUnitDone(out, i, units)) missing.push(i);
  return missing;
}

/** `--unit I --units N` as given to a shardable command: both or neither. */
export function requestedUnit(opts: { unit?: number; units?: number }, command: string): { unit: number; units: number } | undefined {
  if (opts.unit === undefined && opts.units === undefined) return undefined;
  if (opts.unit === undefined || opts.units === undefined) throw new UsageError(`${command}: --unit and --units go together`);
  return { unit: opts.unit, units: opts.units };
}

/** The unit count N whose units 0..N-1 beside `out` are all done (the largest such), or 0. */
export async function completeUnits(out: string): Promise<number> {
  let names: string[] = [];
  try {
    names = await readdir(unitsRoot(out));
  } catch {
    return 0;
  }
  const counts = [...new Set(names.map((n) => /^unit-\d+-of-(\d+)$/.exec(n)?.[1]).filter(Boolean).map(Number))].sort((a, b) => b - a);
  for (const n of counts) {
    let all = true;
    for (let u = 0; u < n && all; u++) all = readUnitDone(out, u, n) !== undefined;
    if (all) return n;
  }
  return 0;
}

/**
 * The key a command's units carry: a hash of the params that decide the bytes and of each input
 * file's identity (size and modification time; a directory: every file under it), so units made
 * from other inputs or options are refused at the merge. Paths are hashed as given: the units and
 * their merge run with the same arguments.
 * @example await unitKey('mine.bm25', { depth: 100, seed: 13 }, ['train.json', 'corpus.bm25'])
 */
export async function unitKey(command: string, params: Record<string, unknown>, inputs: readonly (string | undefined)[]): Promise<string> {
  const h = createHash('sha256').update(`${command}\0${JSON.stringify(params, Object.keys(params).sort())}\0`);
  const visit = async (path: string): Promise<void> => {
    const st = await stat(path);
    if (!st.isDirectory()) {
      h.update(`${path}\0${st.size}\0${st.mtimeMs}\0`);
      return;
    }
    for (const name of (await readdir(path)).sort()) await visit(join(path, name));
  };
  for (const input of inputs) if (input !== undefined && existsSync(input)) await visit(input);
  return h.digest('hex').slice(0, 16);
}

/**
 * Unit `unit` of `units` when units must be whole blocks of `align` records (encode: whole shard
 * files, so every batch and shard of a unit is the one a whole run writes): the unit size is
 * ceil(n/N) rounded up to a multiple of `align`; trailing units may be empty.
 * @example alignedUnitRange(250, 1, 4, 40) // { unit: 1, units: 4, start: 80, end: 160 }
 */
export function alignedUnitRange(n: number, unit: number, units: number, align: number): UnitRange {
  const r = unitRange(n, unit, units);
  const size = Math.ceil(Math.ceil(n / units) / align) * align;
  const start = Math.min(n, r.unit * size);
  return { ...r, start, end: Math.min(n, start + size) };
}
