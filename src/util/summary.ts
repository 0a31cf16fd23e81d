/**
 * Accounts for every input record: converted, or skipped with a named reason. Printed at the
 * end of a run and written as JSON next to the output (`<output>.summary.json`).
 *
 * Paths in side files (`<out>.summary.json`, `<out>.mining.json`) go through `recordedPath`, one
 * rule for every command, so a side file's bytes do not depend on where the run happened:
 *   - a path inside a pipeline's staging dir (`<workdir>/.dprep/staging/<step>.<key>/<rel>`) is
 *     recorded as `<rel>`, its final place relative to the workdir, never the staging dir;
 *   - inside a pipeline step (`withRecordedPaths`), a path under the workdir is workdir-relative and
 *     a project file is relative to the pipeline file's dir (as the lockfile names them); any other
 *     path stays absolute;
 *   - on the CLI, a path is recorded as the user gave it.
 * Side files are hashed into the lockfile and read by later steps (eval report), so the same
 * pipeline in two workdirs gives the same side files, lockfile and keys.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';

/** Where a pipeline step runs: its workdir and the pipeline file's dir (see `recordedPath`). */
export interface RecordedPathBase {
  workdir: string;
  projectDir: string;
}

const recordBase = new AsyncLocalStorage<RecordedPathBase>();

/**
 * Runs `fn` (a pipeline step) with side-file paths recorded relative to `base`.
 * @example await withRecordedPaths({ workdir: '/w', projectDir: '/p' }, () => command.run(options, context))
 */
export const withRecordedPaths = <T>(base: RecordedPathBase, fn: () => Promise<T>): Promise<T> => recordBase.run(base, fn);

/** Environment variables that carry the base to a step's command run in another process (a Slurm job). */
const BASE_ENV = { workdir: 'DPREP_RECORD_WORKDIR', projectDir: 'DPREP_RECORD_PROJECT_DIR' } as const;

/** The current step's base as environment for a process that runs its command (empty outside a step). */
export function recordedPathEnv(): Record<string, string> {
  const base = recordBase.getStore();
  return base ? { [BASE_ENV.workdir]: base.workdir, [BASE_ENV.projectDir]: base.projectDir } : {};
}

/** The base a parent pipeline runner passed in the environment (`recordedPathEnv`), if any. */
export function recordedPathBaseFromEnv(env: NodeJS.ProcessEnv): RecordedPathBase | undefined {
  const workdir = env[BASE_ENV.workdir], projectDir = env[BASE_ENV.projectDir];
  return workdir && projectDir ? { workdir, projectDir } : undefined;
}

const STAGING = /(?:^|[\\/])\.dprep[\\/]staging[\\/][^\\/]+[\\/](.+)$/;

/**
 * A path as a side file records it (the rule above).
 * @example recordedPath('/w/.dprep/staging/mine.0123abcd/data/neg.json') // 'data/neg.json'
 */
export function recordedPath(path: string): string {
  const staged = STAGING.exec(path);
  if (staged) return staged[1].replaceAll('\\', '/');
  const base = recordBase.getStore();
  if (!base) return path;
  const abs = resolve(path);
  for (const root of [base.workdir, base.projectDir]) {
    const rel = relative(resolve(root), abs);
    if (rel === '') return '.';
    if (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel)) return rel.replaceAll('\\', '/');
  }
  return path;
}

/** `where` of a skipped record (`<file>, record 3`, `<file> line 7 …`) with its leading input file recorded as `recordedPath` says. */
function recordedWhere(where: string, inputs: readonly string[]): string {
  const input = inputs.find((i) => i !== '' && where.startsWith(i) && (where.length === i.length || /[\s,:]/.test(where[i.length])));
  return input === undefined ? where : recordedPath(input) + where.slice(input.length);
}

export interface SummaryJson {
  source: string;
  inputs: string[];
  read: number;
  converted: number;
  skipped: Record<string, number>;
  /** The first few skipped records per reason, with their location, so users can look. */
  examples: Record<string, string[]>;
  extra: Record<string, number>;
}

/**
 * The per-run account: `read`, `converted`, and `skip(reason, where)` for everything else.
 * @example
 * const summary = new Summary('nq', ['nq-dev.jsonl']);
 * await convertNq('nq-dev.jsonl', { summary, write: async (r) => void records.push(r) });
 * console.log(summary.render());
 */
export class Summary {
  read = 0;
  converted = 0;
  readonly skipped = new Map<string, number>();
  readonly examples = new Map<string, string[]>();
  readonly extra = new Map<string, number>();

  constructor(
    readonly source: string,
    readonly inputs: string[],
  ) {}

  /**
   * The account of a whole input from the accounts of its consecutive parts (work units), in order:
   * counts add up, and each reason keeps the first 5 examples, as one pass over the whole would.
   * @example Summary.merge([unit0.toJSON(), unit1.toJSON()]).toJSON()
   */
  static merge(parts: readonly SummaryJson[]): Summary {
    if (parts.length === 0) throw new Error('Summary.merge: no parts');
    const out = new Summary(parts[0].source, parts[0].inputs);
    for (const p of parts) {
      out.read += p.read;
      out.converted += p.converted;
      for (const [reason, n] of Object.entries(p.skipped)) out.skipped.set(reason, (out.skipped.get(reason) ?? 0) + n);
      for (const [reason, list] of Object.entries(p.examples)) out.examples.set(reason, [...(out.examples.get(reason) ?? []), ...list].slice(0, 5));
      for (const [name, n] of Object.entries(p.extra)) out.count(name, n);
    }
    return out;
  }

  /** Records that a record was skipped; `where` is its location (e.g. "data[3].paragraphs[1].qas[0] id=...") */
  skip(reason: string, where?: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
    if (where !== undefined) {
      const list = this.examples.get(reason) ?? [];
      if (list.length < 5) list.push(where);
      this.examples.set(reason, list);
    }
  }

  /** Counts something that is neither a conversion nor a skip (e.g. "answers deduplicated"). */
  count(name: string, n = 1): void {
    this.extra.set(name, (this.extra.get(name) ?? 0) + n);
  }

  get skippedTotal(): number {
    let n = 0;
    for (const v of this.skipped.values()) n += v;
    return n;
  }

  toJSON(): SummaryJson {
    return {
      source: this.source,
      inputs: this.inputs,
      read: this.read,
      converted: this.converted,
      skipped: Object.fromEntries([...this.skipped].sort()),
      examples: Object.fromEntries([...this.examples].sort()),
      extra: Object.fromEntries([...this.extra].sort()),
    };
  }

  /** Human-readable table: read = converted + every skip reason. */
  render(): string {
    const lines = [`${this.source}: read ${this.read}, converted ${this.converted}, skipped ${this.skippedTotal}`];
    for (const [reason, n] of [...this.skipped].sort()) lines.push(`  skipped ${String(n).padStart(8)}  ${reason}`);
    for (const [name, n] of [...this.extra].sort()) lines.push(`  ${String(n).padStart(16)}  ${name}`);
    return lines.join('\n');
  }

  async write(outputPath: string): Promise<string> {
    const path = `${outputPath}.summary.json`;
    await writeFileAtomic(path, JSON.stringify(recordedSummary(this.toJSON()), null, 2) + '\n');
    return path;
  }
}

/** A summary's JSON with its paths recorded as `recordedPath` says (for side files that embed one, such as `<out>.mining.json`). */
export function recordedSummary(json: SummaryJson): SummaryJson {
  return {
    ...json,
    inputs: json.inputs.map(recordedPath),
    examples: Object.fromEntries(Object.entries(json.examples).map(([reason, list]) => [reason, list.map((w) => recordedWhere(w, json.inputs))])),
  };
}
