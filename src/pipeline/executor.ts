/**
 * Where a step's work runs (issue 14): the local executor (this process) or Slurm (src/pipeline/slurm.ts).
 * The runner hands an executor either the units of a shardable step (then merges them itself, in
 * process, through the command's own merge) or a whole step. Executor settings never enter a cache
 * key or the lockfile: they decide where and how many at once, never the bytes. What the executor
 * did (job ids, attempts, hosts) goes into the run manifest.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { resolveOptions, type CommandResult, type OptionsSpec, type OptionValues } from '../options.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { missingUnits, readUnitDone } from '../util/units.ts';

/** The `executor:` block of a pipeline (and `--set executor.KEY=VALUE`), declared once as data. */
export const EXECUTOR_OPTIONS = {
  partition: { type: 'string', help: 'Slurm partition (sbatch --partition)' },
  account: { type: 'string', help: 'Slurm account (sbatch --account)' },
  qos: { type: 'string', help: 'Slurm QOS (sbatch --qos)' },
  time: { type: 'string', default: '01:00:00', help: 'time limit of every Slurm job (sbatch --time; always set: a cluster default may be 10 minutes)' },
  gpus: { type: 'integer', min: 0, help: 'GPUs per job (sbatch --gpus)' },
  cpus: { type: 'integer', min: 1, help: 'CPUs per task (sbatch --cpus-per-task)' },
  mem: { type: 'string', help: 'memory per job (sbatch --mem, e.g. 16G)' },
  maxParallel: { type: 'integer', min: 1, default: 4, help: 'units running at once (array %P for Slurm, workers for local)' },
  retries: { type: 'integer', min: 0, default: 1, help: 'retries of a failed unit (failure, out of memory, timeout); preemption and node failure do not use them; bad input (exit 2) is never retried' },
  units: { type: 'integer', min: 1, help: 'split every shardable step into this many units (a step may set its own units:)' },
  poll: { type: 'number', min: 0.05, default: 5, help: 'seconds between two looks at the Slurm queue' },
} as const satisfies OptionsSpec;

export type ExecutorSettings = OptionValues<typeof EXECUTOR_OPTIONS>;
export type ExecutorKind = 'local' | 'slurm';

/** Checks raw `executor:` values (kebab keys) against EXECUTOR_OPTIONS; `where` prefixes errors. */
export function resolveExecutorSettings(raw: Record<string, unknown>, where: string): ExecutorSettings {
  return resolveOptions(EXECUTOR_OPTIONS, raw, where);
}

/** One unit attempt, as the manifest and `dprep status` show it. */
export interface AttemptRecord {
  unit: number;
  /** Slurm job id (`123_4` for array task 4 of job 123); absent for the local executor. */
  job?: string;
  outcome: 'done' | 'failed' | 'bad-input' | 'timeout' | 'out-of-memory' | 'preempted' | 'node-fail' | 'lost' | 'cancelled' | 'requeued';
  /** Whether it used the retry budget. */
  counted: boolean;
  host?: string;
  detail?: string;
}

/** What an executor did for one step: the run manifest's `executor` entry of the step. */
export interface ExecutorReport {
  kind: ExecutorKind;
  settings: Partial<ExecutorSettings>;
  /** Units of the step (absent for a whole step). */
  units?: number;
  jobs: { id: string; units: number[]; script?: string }[];
  attempts: AttemptRecord[];
  hosts: string[];
}

/** A shardable step's units, as the runner hands them to an executor. */
export interface UnitWork {
  step: string;
  /** Per-(step, key) state directory: job records, scripts, logs, results. */
  stateDir: string;
  units: number;
  /** The output whose unit directories (unitDir(out, i, units)) hold committed units. */
  unitOut: string;
  /** `dprep` argv of the whole command (outputs in staging), without --unit/--units. */
  argv: string[];
  /** Does unit i in this process (the local executor). */
  runUnit(unit: number): Promise<unknown>;
  log(line: string): void;
}

/** A step run as one piece. */
export interface WholeWork {
  step: string;
  stateDir: string;
  argv: string[];
  run(): Promise<CommandResult | void>;
  log(line: string): void;
}

export interface Executor {
  readonly kind: ExecutorKind;
  readonly settings: ExecutorSettings;
  /** Runs until every unit is committed (or a unit fails for good: throws). */
  runUnits(work: UnitWork): Promise<ExecutorReport>;
  /** Runs the whole step; resolves with the command's result. */
  runWhole(work: WholeWork): Promise<{ result: CommandResult | void; report: ExecutorReport }>;
}

/** Settings that differ from the defaults (what the manifest records). */
export function settingsShown(s: ExecutorSettings): Partial<ExecutorSettings> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) if (v !== undefined) out[k] = v;
  return out as Partial<ExecutorSettings>;
}

/** Bad input or a usage mistake: the same again would fail the same way, so it is not retried. */
export function isBadInput(err: unknown): boolean {
  return err instanceof InputError || err instanceof UsageError;
}

/** The executor's record file in a step's state dir: what a rerun re-attaches to. */
export const EXECUTOR_FILE = 'executor.json';

export async function readExecutorFile<T>(stateDir: string): Promise<T | undefined> {
  const file = join(stateDir, EXECUTOR_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export const writeExecutorFile = (stateDir: string, data: unknown) => writeFileAtomic(join(stateDir, EXECUTOR_FILE), JSON.stringify(data, null, 2) + '\n');

/**
 * Runs units in this process, `max-parallel` at once. A unit that throws is retried up to
 * `retries` times; bad input stops the step at once (no retry; units running finish first).
 */
export class LocalExecutor implements Executor {
  readonly kind = 'local' as const;
  constructor(readonly settings: ExecutorSettings) {}

  async runUnits(work: UnitWork): Promise<ExecutorReport> {
    const report: ExecutorReport = { kind: 'local', settings: settingsShown(this.settings), units: work.units, jobs: [], attempts: [], hosts: [hostname()] };
    const queue = missingUnits(work.unitOut, work.units);
    const failures = new Map<number, number>();
    let stop: unknown;
    const worker = async () => {
      for (let unit = queue.shift(); unit !== undefined && stop === undefined; unit = queue.shift()) {
        for (;;) {
          try {
            await work.runUnit(unit);
            if (!readUnitDone(work.unitOut, unit, work.units)) throw new Error(`unit ${unit} of ${work.units} returned without committing its output`);
            report.attempts.push({ unit, outcome: 'done', counted: false });
            break;
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            if (isBadInput(err)) {
              report.attempts.push({ unit, outcome: 'bad-input', counted: false, detail: msg });
              stop ??= err;
              return;
            }
            const n = (failures.get(unit) ?? 0) + 1;
            failures.set(unit, n);
            report.attempts.push({ unit, outcome: 'failed', counted: true, detail: msg });
            if (n > this.settings.retries) {
              stop ??= new Error(`unit ${unit} of ${work.units} failed ${n} times (retries: ${this.settings.retries}): ${msg}`);
              return;
            }
            work.log(`unit ${unit} failed (${msg}); retry ${n} of ${this.settings.retries}`);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.maxParallel, queue.length) }, worker));
    if (stop !== undefined) throw stop;
    return report;
  }

  async runWhole(work: WholeWork): Promise<{ result: CommandResult | void; report: ExecutorReport }> {
    const result = await work.run();
    return { result, report: { kind: 'local', settings: settingsShown(this.settings), jobs: [], attempts: [], hosts: [hostname()] } };
  }
}
