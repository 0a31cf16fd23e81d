/**
 * The lockfile (`<workdir>/dprep.lock.yaml`): per completed step, its cache key and what the key
 * was made of (command, params, input hashes), and the hashes of what it wrote. Key order is
 * fixed and nothing time-dependent is stored, so an unchanged rerun leaves it byte-identical
 * and a changed parameter shows up as a small diff.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { writeFileAtomic } from '../io/atomic.ts';
import { UsageError } from '../util/errors.ts';

export const LOCKFILE_NAME = 'dprep.lock.yaml';
const LOCKFILE_VERSION = 1;

export interface LockedInput {
  /** Relative to the pipeline file's directory; relative to the workdir for another step's output (`from`). */
  path: string;
  hash: string;
  /** `step.output` when the input is another step's output. */
  from?: string;
}

export interface LockedOutput {
  /** Relative to the workdir. */
  path: string;
  hash: string;
}

/** One step as it was when its outputs were made. */
export interface LockEntry {
  uses: string;
  key: string;
  dprep: string;
  seed: number;
  params: Record<string, unknown>;
  inputs: Record<string, LockedInput[]>;
  outputs: Record<string, LockedOutput>;
  /** Files the command wrote beside its outputs (`<out>.summary.json`), workdir-relative path → hash. */
  'side-files': Record<string, string>;
}

export interface Lockfile {
  pipeline: string;
  steps: Record<string, LockEntry>;
}

/** The inputs of a cache key; the key is the sha256 of their canonical JSON. */
export interface KeyMaterial {
  dprep: string;
  uses: string;
  params: Record<string, unknown>;
  inputs: Record<string, string[]>;
  outputs: Record<string, string>;
}

/**
 * A step's cache key. Input paths are not part of it (only contents), so moving an input
 * file does not force a rerun; output paths are, since the outputs must exist under them.
 * @example cacheKey({ dprep: '0.1.0', uses: 'mine.bm25', params: { depth: 100 }, inputs: { corpus: ['sha256:…'] }, outputs: { out: 'a.jsonl' } })
 */
export function cacheKey(material: KeyMaterial): string {
  return createHash('sha256').update(canonicalJson(material)).digest('hex');
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Reads the workdir's lockfile; an absent one is empty. */
export async function readLockfile(workdir: string, pipeline: string): Promise<Lockfile> {
  const file = join(workdir, LOCKFILE_NAME);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { pipeline, steps: {} };
  }
  let doc: { lockfile?: number; pipeline?: string; steps?: Record<string, LockEntry> };
  try {
    doc = parse(text) ?? {};
  } catch (err) {
    throw new UsageError(`${file}: unreadable lockfile (${(err as Error).message.split('\n')[0]}); delete it to rebuild every step`);
  }
  if (!isMapping(doc)) throw new UsageError(`${file}: not a lockfile (expected a mapping); delete it to rebuild every step`);
  if (doc.lockfile !== LOCKFILE_VERSION) {
    throw new UsageError(`${file}: lockfile version ${doc.lockfile} is not ${LOCKFILE_VERSION}; delete it to rebuild every step`);
  }
  const steps = doc.steps ?? {};
  if (!isMapping(steps)) throw new UsageError(`${file}: field "steps": expected a mapping of step names; the lockfile is damaged: delete it to rebuild every step`);
  for (const [name, entry] of Object.entries(steps)) {
    const problem = entryProblem(entry);
    if (problem) {
      throw new UsageError(
        `${file}: step "${name}", ${problem}: the lockfile is damaged (truncated or edited); delete that step's entry (that step reruns) or the whole file (every step reruns), and run again`,
      );
    }
  }
  return { pipeline: typeof doc.pipeline === 'string' ? doc.pipeline : pipeline, steps };
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const HASH = /^(dir-)?sha256:[0-9a-f]{64}$/;

/** What is wrong with one step's entry, as `field "x": …`, or undefined when it is whole. */
function entryProblem(e: unknown): string | undefined {
  if (!isMapping(e)) return 'expected a mapping';
  for (const key of ['uses', 'dprep'] as const) if (typeof e[key] !== 'string') return `field "${key}": expected a string`;
  if (typeof e.key !== 'string' || !/^[0-9a-f]{64}$/.test(e.key)) return `field "key": expected a sha256 hex digest, got ${JSON.stringify(e.key)}`;
  if (typeof e.seed !== 'number') return 'field "seed": expected a number';
  if (!isMapping(e.params)) return 'field "params": expected a mapping';
  if (!isMapping(e.inputs)) return 'field "inputs": expected a mapping';
  for (const [k, list] of Object.entries(e.inputs)) {
    if (!Array.isArray(list)) return `field "inputs.${k}": expected a list`;
    for (const [i, item] of list.entries()) {
      if (!isMapping(item) || typeof item.path !== 'string' || typeof item.hash !== 'string' || !HASH.test(item.hash)) return `field "inputs.${k}[${i}]": expected {path, hash: sha256:<hex>}`;
    }
  }
  if (!isMapping(e.outputs)) return 'field "outputs": expected a mapping';
  for (const [k, o] of Object.entries(e.outputs)) {
    if (!isMapping(o) || typeof o.path !== 'string' || typeof o.hash !== 'string' || !HASH.test(o.hash)) return `field "outputs.${k}": expected {path, hash: sha256:<hex>}`;
  }
  if (!isMapping(e['side-files'])) return 'field "side-files": expected a mapping';
  for (const [path, hash] of Object.entries(e['side-files'])) if (typeof hash !== 'string' || !HASH.test(hash)) return `field "side-files.${path}": expected sha256:<hex>`;
  return undefined;
}

/** Writes the lockfile atomically with steps in `order` (pipeline order). */
export async function writeLockfile(workdir: string, lock: Lockfile, order: readonly string[]): Promise<void> {
  const steps: Record<string, LockEntry> = {};
  for (const name of order) {
    const e = lock.steps[name];
    if (!e) continue;
    steps[name] = {
      uses: e.uses,
      key: e.key,
      dprep: e.dprep,
      seed: e.seed,
      params: e.params,
      inputs: e.inputs,
      outputs: e.outputs,
      'side-files': Object.fromEntries(Object.entries(e['side-files']).sort()),
    };
  }
  const header = [
    '# dprep lockfile, written by `dprep run`. Do not edit: a step is skipped when its key (command,',
    '# params, input contents, dprep version) matches and its outputs still have these hashes.',
    '',
  ].join('\n');
  const body = stringify({ lockfile: LOCKFILE_VERSION, pipeline: lock.pipeline, steps }, { lineWidth: 0 });
  await writeFileAtomic(join(workdir, LOCKFILE_NAME), header + body);
}
