/**
 * Runs a plan: each step is skipped when its cache key and output hashes match the lockfile,
 * otherwise it runs with its outputs pointed into a staging directory and, once the command
 * returns, the outputs (and side files such as `<out>.summary.json`) are moved into the
 * workdir and recorded. A killed run leaves only staging debris, never taken as output; a rerun
 * with the same key keeps it, so steps that checkpoint (into `context.stateDir`, or train into its
 * staged run directory) pick up from their last checkpoint; another key clears it.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { replaceDir } from '../io/atomic.ts';
import { camel, type CommandResult } from '../options.ts';
import { UsageError } from '../util/errors.ts';
import { withRecordedPaths } from '../util/summary.ts';
import { missingUnits } from '../util/units.ts';
import { DPREP_VERSION } from '../version.ts';
import { HashCache, listTree } from './hash.ts';
import { cacheKey, readLockfile, writeLockfile, type KeyMaterial, type LockedInput, type LockEntry, type Lockfile } from './lockfile.ts';
import { ManifestWriter, type StepRecord } from './manifest.ts';
import { acquireRunLock } from './run-lock.ts';
import { downstreamOf, upstreamOf } from './graph.ts';
import type { Plan, PlannedStep } from './plan.ts';
import { LocalExecutor, readExecutorFile, settingsShown, type Executor, type ExecutorKind, type ExecutorReport } from './executor.ts';
import { SlurmExecutor } from './slurm.ts';
import { kebab, type CommandSpec } from '../options.ts';

export type StepState = 'fresh' | 'stale' | 'missing';

/** Whether a step's recorded outputs can be reused, and if not, why. */
export interface Assessment {
  state: StepState;
  reasons: string[];
  key?: string;
  inputs?: Record<string, LockedInput[]>;
}

export interface RunOptions {
  /** Steps to rerun even when fresh, or 'all'. */
  force?: readonly string[] | 'all';
  /** Run only this step and what depends on it (upstream outputs are used as they are). */
  from?: string;
  /** Run only this step and what it needs. */
  until?: string;
  /** Print what would run, and why; run nothing and write nothing. */
  dryRun?: boolean;
  /** Re-read every input and output instead of trusting the (size, mtime, inode) hash cache. */
  verifyHashes?: boolean;
  /** The `--set` overrides the plan was made with (recorded in the manifest). */
  overrides?: readonly string[];
  /** Step progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Where steps run: 'local' (default: this process) or 'slurm', or an executor of the caller's. Settings come from the plan's executor block. */
  executor?: ExecutorKind | Executor;
}

/** The executor a run uses, with the plan's settings. */
export function makeExecutor(plan: Plan, kind: ExecutorKind | Executor = 'local'): Executor {
  if (typeof kind !== 'string') return kind;
  return kind === 'slurm' ? new SlurmExecutor(plan.executor) : new LocalExecutor(plan.executor);
}

/**
 * The `dprep` argv of a command with these (camelCase) options: what a Slurm job runs.
 * @example commandArgv(cmd, { input: '/w/in.txt', lines: 3, verbose: true }) // ['debug', 'write', '--input', '/w/in.txt', '--lines', '3', '--verbose']
 */
export function commandArgv(cmd: CommandSpec<any>, options: Record<string, unknown>): string[] {
  const argv = cmd.id.split('.');
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || !(key in cmd.options)) continue;
    const flag = `--${kebab(key)}`;
    if (typeof value === 'boolean') argv.push(value ? flag : `--no-${kebab(key)}`);
    else if (Array.isArray(value)) {
      if (value.some((v) => String(v).includes(','))) throw new UsageError(`option ${kebab(key)} of ${cmd.id}: an item holds a comma, which a job's command line cannot pass (${JSON.stringify(value)})`);
      if (value.length) argv.push(flag, value.join(','));
    } else argv.push(flag, String(value));
  }
  return argv;
}

export interface RunResult {
  ok: boolean;
  steps: StepRecord[];
  /** Run manifest path (absent on a dry run). */
  manifest?: string;
  /** The failure that stopped the run; later steps are `not-run`. */
  error?: StepFailedError;
}

/**
 * A step's command threw; names the step. Bad input keeps its exit code via `cause`.
 * @example
 * const result = await runPipeline(plan);
 * if (result.error) console.error(result.error.step, result.error.cause);
 */
export class StepFailedError extends Error {
  constructor(
    readonly step: string,
    readonly uses: string,
    override readonly cause: unknown,
  ) {
    super(`step "${step}" (${uses}) failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StepFailedError';
  }
}

const BOOKKEEPING = '.dprep';

/**
 * Runs the selected steps of a plan, in order, skipping fresh ones.
 * @example
 * const plan = planPipeline(await readPipelineFile('p.yaml'), { commands });
 * const result = await runPipeline(plan, { force: ['train'] });
 */
export async function runPipeline(plan: Plan, opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const selected = selectSteps(plan, opts);
  const force = opts.force === 'all' ? new Set(plan.steps.map((s) => s.name)) : new Set(opts.force ?? []);
  const { workdir } = plan;
  const book = join(workdir, BOOKKEEPING);
  const executor = makeExecutor(plan, opts.executor);

  let releaseLock = async () => {};
  if (!opts.dryRun) {
    await mkdir(book, { recursive: true });
    releaseLock = await acquireRunLock(join(book, 'run.pid'));
  }
  try {
    const hashes = await HashCache.open(join(book, 'hash-cache.json'), { verify: opts.verifyHashes, readOnly: opts.dryRun });
    const lock = await readLockfile(workdir, plan.spec.name);
    const manifest = opts.dryRun
      ? undefined
      : new ManifestWriter(workdir, { name: plan.spec.name, file: plan.spec.file, text: plan.spec.text, seed: plan.spec.seed, overrides: opts.overrides ?? [], executor: { kind: executor.kind, settings: settingsShown(executor.settings) } });
    await manifest?.save();
    const records: StepRecord[] = [];
    const pending = new Map<string, string>();
    const n = plan.steps.length;
    let failed: StepFailedError | undefined;

    for (const [i, step] of plan.steps.entries()) {
      const tag = `[${i + 1}/${n}] ${step.name}`;
      const base = { step: step.name, uses: step.uses, seed: step.seed };
      let record: StepRecord;
      if (failed) record = { ...base, status: 'not-run', reason: `after failed step ${failed.step}` };
      else if (!selected.has(step.name)) record = { ...base, status: 'not-selected', reason: 'outside --from/--until' };
      else {
        const a = await assessStep(plan, step, lock.steps[step.name], hashes, pending);
        const forced = force.has(step.name);
        if (a.state === 'fresh' && !forced) {
          log(`${tag}: fresh, skipped`);
          record = { ...base, status: 'cached', reason: 'fresh', key: a.key };
        } else {
          const reason = forced ? ['forced', ...(a.state === 'fresh' ? [] : a.reasons)].join('; ') : a.reasons.join('; ');
          if (opts.dryRun) {
            log(`${tag} (${step.uses}): would run: ${reason}`);
            pending.set(step.name, 'to be rerun');
            record = { ...base, status: 'would-run', reason, key: a.key };
          } else {
            log(`${tag} (${step.uses}): running: ${reason}`);
            record = { ...base, status: 'ran', reason, key: a.key };
            try {
              if (!a.key || !a.inputs) throw new UsageError(`${a.reasons.join('; ')}; run the steps that produce it first`);
              const t0 = performance.now();
              const { result, report } = await executeStep(plan, step, a.key, a.inputs, lock, hashes, log, executor, (r) => {
                record.executor = r;
              });
              record.seconds = round((performance.now() - t0) / 1000);
              if (result?.metrics) record.metrics = result.metrics;
              if (report) record.executor = report;
              log(`${tag}: done in ${formatSeconds(record.seconds)}${record.metrics ? ` (${formatMetrics(record.metrics)})` : ''}`);
            } catch (err) {
              failed = new StepFailedError(step.name, step.uses, err);
              record = { ...record, status: 'failed', error: failed.message };
              log(`${tag}: FAILED: ${failed.message}`);
            }
          }
        }
      }
      records.push(record);
      await manifest?.record(record);
    }
    await manifest?.finish(failed ? 'failed' : 'ok');
    return { ok: !failed, steps: records, manifest: manifest?.path, error: failed };
  } finally {
    await releaseLock();
  }
}

/**
 * Fresh, stale or missing for every step, with reasons; steps downstream of a non-fresh step
 * are stale too (their inputs will change). Reads only; writes nothing.
 * @example for (const s of await pipelineStatus(plan)) console.log(s.step, s.state, s.reason);
 */
export async function pipelineStatus(plan: Plan, opts: { verifyHashes?: boolean } = {}): Promise<StepStatusLine[]> {
  const hashes = await HashCache.open(join(plan.workdir, BOOKKEEPING, 'hash-cache.json'), { verify: opts.verifyHashes, readOnly: true });
  const lock = await readLockfile(plan.workdir, plan.spec.name);
  const pending = new Map<string, string>();
  const out: StepStatusLine[] = [];
  for (const step of plan.steps) {
    const a = await assessStep(plan, step, lock.steps[step.name], hashes, pending);
    if (a.state !== 'fresh') pending.set(step.name, a.state);
    const line: StepStatusLine = { step: step.name, state: a.state, reason: a.state === 'fresh' ? 'outputs match the lockfile' : a.reasons.join('; ') };
    if (a.state !== 'fresh' && a.key) {
      const p = await unitProgress(plan, step, a.key);
      if (p) line.progress = p;
    }
    out.push(line);
  }
  return out;
}

export interface StepStatusLine {
  step: string;
  state: StepState;
  reason: string;
  /** A step under way (units committed so far, jobs, retries), read from its staging and state dirs. */
  progress?: UnitProgress;
}

export interface UnitProgress {
  /** Units of the step and how many are committed (absent for a whole step run as one job). */
  units?: number;
  done?: number;
  jobs: string[];
  /** Attempts that used the retry budget, and those that did not (preemption, requeue, node failure). */
  retries: number;
  requeues: number;
}

/** What `dprep status` says of a step part-way done: committed units in its staging dir, Slurm jobs and retries in its state dir. */
async function unitProgress(plan: Plan, step: PlannedStep, key: string): Promise<UnitProgress | undefined> {
  const book = join(plan.workdir, BOOKKEEPING);
  const tag = `${step.name}.${key.slice(0, 16)}`;
  const rec = await readExecutorFile<{ units: number; whole: boolean; jobs: { id: string }[]; judged: Record<string, { counted: boolean; outcome: string; detail?: string }> }>(join(book, 'state', tag));
  const units = step.command.units ? (rec && !rec.whole ? rec.units : (step.units ?? plan.executor.units)) : undefined;
  let done: number | undefined;
  if (units !== undefined) {
    const options = { ...step.options };
    const out = step.outputs.find((o) => o.key === 'out') ?? step.outputs[0];
    if (out) {
      options[camel(out.key)] = join(book, 'staging', tag, out.rel);
      done = units - missingUnits(options[camel(out.key)] as string, units).length;
    }
  }
  if (!rec && !done) return undefined;
  const judged = Object.values(rec?.judged ?? {});
  return {
    ...(units !== undefined ? { units, done } : {}),
    jobs: rec?.jobs.map((j) => j.id) ?? [],
    retries: judged.filter((j) => j.counted).length,
    requeues: judged.filter((j) => !j.counted && j.outcome !== 'done' && j.outcome !== 'bad-input').length + judged.filter((j) => /requeued/.test(j.detail ?? '')).length,
  };
}

/** Compares a step as planned now with its lockfile entry and its outputs on disk. */
export async function assessStep(
  plan: Plan,
  step: PlannedStep,
  entry: LockEntry | undefined,
  hashes: HashCache,
  pending: ReadonlyMap<string, string>,
): Promise<Assessment> {
  const upstream = step.deps.filter((d) => pending.has(d)).map((d) => `upstream step ${d} is ${pending.get(d)}`);
  if (upstream.length) {
    // Inputs are about to change, so hashing them says nothing; missing outputs are still worth saying.
    const gone = entry ? Object.entries(entry.outputs).filter(([, o]) => !existsSync(join(plan.workdir, o.path))) : [];
    const reasons = [...upstream, ...gone.map(([k, o]) => `output ${k} (${o.path}) is missing`)];
    return { state: entry && !gone.length ? 'stale' : 'missing', reasons };
  }

  const inputs: Record<string, LockedInput[]> = {};
  const missing: string[] = [];
  for (const binding of step.inputs) {
    inputs[binding.key] = [];
    for (const p of binding.paths) {
      if (!existsSync(p.abs)) {
        missing.push(`input ${binding.key} not found: ${shown(p.abs)}${p.fromStep ? ` (output ${p.fromOutput} of step ${p.fromStep})` : ''}`);
        continue;
      }
      // Another step's output is named by its workdir path, so lockfiles of two workdirs compare equal.
      const path = relative(p.fromStep ? plan.workdir : plan.spec.dir, p.abs).replaceAll('\\', '/');
      const locked: LockedInput = { path, hash: await hashes.hashPath(p.abs) };
      if (p.fromStep) locked.from = `${p.fromStep}.${p.fromOutput}`;
      inputs[binding.key].push(locked);
    }
  }
  if (missing.length) return { state: 'missing', reasons: missing };

  const material = keyMaterial(step, inputs);
  const key = cacheKey(material);
  if (!entry) return { state: 'missing', reasons: ['never run'], key, inputs };
  if (entry.key !== key) return { state: 'stale', reasons: diffReasons(entry, material), key, inputs };

  const reasons: string[] = [];
  let state: StepState = 'fresh';
  const files = [
    ...Object.entries(entry.outputs).map(([k, o]) => ({ what: `output ${k} (${o.path})`, path: o.path, hash: o.hash })),
    ...Object.entries(entry['side-files']).map(([path, hash]) => ({ what: `side file ${path}`, path, hash })),
  ];
  for (const f of files) {
    const abs = join(plan.workdir, f.path);
    if (!existsSync(abs)) {
      state = 'missing';
      reasons.push(`${f.what} is missing`);
    } else if ((await hashes.hashPath(abs)) !== f.hash) {
      if (state === 'fresh') state = 'stale';
      reasons.push(`${f.what} was changed after the step wrote it`);
    }
  }
  return { state, reasons, key, inputs };
}

function keyMaterial(step: PlannedStep, inputs: Record<string, LockedInput[]>): KeyMaterial {
  return {
    dprep: DPREP_VERSION,
    uses: step.uses,
    params: step.params,
    inputs: Object.fromEntries(Object.entries(inputs).map(([k, list]) => [k, list.map((i) => i.hash)])),
    outputs: Object.fromEntries(step.outputs.map((o) => [o.key, o.rel])),
  };
}

/** Says which part of the key changed: the command, dprep, a param, an input's content, an output path. */
function diffReasons(entry: LockEntry, now: KeyMaterial): string[] {
  const reasons: string[] = [];
  const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));
  if (entry.uses !== now.uses) reasons.push(`command changed: ${entry.uses} → ${now.uses}`);
  if (entry.dprep !== now.dprep) reasons.push(`dprep version changed: ${entry.dprep} → ${now.dprep}`);
  for (const k of union(entry.params, now.params)) {
    const [was, is] = [entry.params[k], now.params[k]];
    if (JSON.stringify(was) !== JSON.stringify(is)) reasons.push(`param ${k} changed: ${show(was)} → ${show(is)}`);
  }
  for (const k of union(entry.inputs, now.inputs)) {
    const was = entry.inputs[k]?.map((i) => i.hash);
    const is = now.inputs[k];
    if (JSON.stringify(was) === JSON.stringify(is)) continue;
    if (!was) reasons.push(`input option ${k} added`);
    else if (!is) reasons.push(`input option ${k} removed`);
    else if (was.length !== is.length) reasons.push(`input option ${k} now has ${is.length} files, had ${was.length}`);
    else {
      const changed = entry.inputs[k].filter((_, i) => was[i] !== is[i]).map((i) => i.from ?? i.path);
      reasons.push(`input file changed: ${changed.join(', ')} (option ${k})`);
    }
  }
  for (const k of union(entry.outputs, now.outputs)) {
    if (entry.outputs[k]?.path !== now.outputs[k]) reasons.push(`output ${k} path changed: ${show(entry.outputs[k]?.path)} → ${show(now.outputs[k])}`);
  }
  return reasons.length ? reasons : ['cache key changed'];
}

/** Runs the command with outputs in staging, then moves them into the workdir and records them. */
async function executeStep(
  plan: Plan,
  step: PlannedStep,
  key: string,
  inputs: Record<string, LockedInput[]>,
  lock: Lockfile,
  hashes: HashCache,
  log: (line: string) => void,
  executor: Executor,
  onReport: (r: ExecutorReport) => void,
): Promise<{ result: CommandResult | void; report?: ExecutorReport }> {
  const book = join(plan.workdir, BOOKKEEPING);
  // Staging and state are per (step, key) and survive a killed or failed attempt: a command that
  // checkpoints into its output (train's last/) or its state dir resumes there on the rerun. What an
  // attempt left is never taken as output: outputs are moved in only after the command returns.
  // Those of another key (other params or inputs) are removed, never resumed.
  const staging = await keyedDir(join(book, 'staging'), step.name, key);
  const stateDir = await keyedDir(join(book, 'state'), step.name, key);

  const options: Record<string, unknown> = { ...step.options };
  for (const o of step.outputs) {
    options[camel(o.key)] = join(staging, o.rel);
    await mkdir(dirname(join(staging, o.rel)), { recursive: true });
  }
  const context = { log: (m: string) => log(`  ${step.name}: ${m}`), stateDir };
  // The command writes the paths in its side files workdir- or project-relative, final places not staging (src/util/summary.ts).
  const { result, report } = await withRecordedPaths({ workdir: plan.workdir, projectDir: plan.spec.dir }, () => dispatchStep(plan, step, options, executor, stateDir, context, onReport));


  for (const o of step.outputs) {
    if (!existsSync(join(staging, o.rel))) throw new Error(`the command finished without writing output ${o.key} (${o.rel})`);
  }
  const otherOutputs = plan.steps.filter((s) => s !== step).flatMap((s) => s.outputs.map((o) => o.rel));
  for (const o of step.outputs) await moveIntoWorkdir(join(staging, o.rel), o.abs, book);
  const sideFiles: Record<string, string> = {};
  for (const f of await listTree(staging)) {
    // Temp files and dirs of the command's writers (`.x.tmp-PID-*`, `.x.bm25-*/`, maybe left by an earlier attempt) are not outputs.
    // Committed work units (`.x.units/`) are the merge's input, not outputs.
    if (f.dir || /(^|\/)\.[^/]*\.(tmp-|bm25-|units(\/|$))/.test(f.path)) continue;
    if (otherOutputs.some((o) => f.path === o || f.path.startsWith(o + '/'))) {
      throw new Error(`the command wrote ${f.path}, which is an output of another step`);
    }
    await moveIntoWorkdir(join(staging, f.path), join(plan.workdir, f.path), book);
    sideFiles[f.path] = await hashes.hashPath(join(plan.workdir, f.path));
  }
  const outputs: LockEntry['outputs'] = {};
  for (const o of step.outputs) outputs[o.key] = { path: o.rel, hash: await hashes.hashPath(o.abs) };

  lock.steps[step.name] = { uses: step.uses, key, dprep: DPREP_VERSION, seed: step.seed, params: step.params, inputs, outputs, 'side-files': sideFiles };
  await writeLockfile(plan.workdir, lock, plan.steps.map((s) => s.name));
  await hashes.save();
  await rm(staging, { recursive: true, force: true });
  await rm(stateDir, { recursive: true, force: true });
  return { result, report };
}

/** Runs the step's command where the executor puts it: its units then the merge here, the whole command here, or as one job. */
async function dispatchStep(
  plan: Plan,
  step: PlannedStep,
  options: Record<string, unknown>,
  executor: Executor,
  stateDir: string,
  context: { log: (m: string) => void; stateDir: string },
  onReport: (r: ExecutorReport) => void,
): Promise<{ result: CommandResult | void; report?: ExecutorReport }> {
  let result: CommandResult | void;
  let report: ExecutorReport | undefined;
  const units = step.command.units ? (step.units ?? plan.executor.units) : undefined;
  if (units !== undefined) {
    // Units first (where the executor puts them), then the merge here, through the command's own writers.
    const unitOut = unitOutput(step, options);
    try {
      report = await executor.runUnits({
        step: step.name,
        stateDir,
        units,
        unitOut,
        argv: commandArgv(step.command, options),
        runUnit: (unit) => step.command.run({ ...options, unit, units }, { ...context, log: (m: string) => context.log(`unit ${unit}: ${m}`) }),
        log: context.log,
      });
    } catch (err) {
      onReport({ kind: executor.kind, settings: settingsShown(executor.settings), units, jobs: [], attempts: [], hosts: [] });
      throw err;
    }
    const missing = missingUnits(unitOut, units);
    if (missing.length) throw new Error(`units ${missing.join(', ')} of ${units} are not committed after the executor finished`);
    result = await step.command.run(options, context);
  } else if (executor.kind === 'local') {
    result = await step.command.run(options, context);
  } else {
    ({ result, report } = await executor.runWhole({ step: step.name, stateDir, argv: commandArgv(step.command, options), run: () => step.command.run(options, context), log: context.log }));
  }

  return { result, report };
}

/** The output a shardable command puts its unit directories beside: its `out` option when set, else its first output that is set. */
function unitOutput(step: PlannedStep, options: Record<string, unknown>): string {
  const keys = Object.entries(step.command.options).filter(([, o]) => (o as { role?: string }).role === 'output').map(([k]) => k).filter((k) => typeof options[k] === 'string');
  const key = keys.includes('out') ? 'out' : keys[0];
  if (!key || typeof options[key] !== 'string') throw new Error(`${step.command.id} declares units but has no output option to put them beside`);
  return options[key] as string;
}

/** `root/<step>.<key prefix>`, created; the step's directories of other keys are removed. */
async function keyedDir(root: string, stepName: string, key: string): Promise<string> {
  const dir = join(root, `${stepName}.${key.slice(0, 16)}`);
  await mkdir(root, { recursive: true });
  for (const name of await readdir(root)) {
    // A step name holds no dot, so `<step>.` never matches another step's directories; the bare name is the older layout.
    if ((name.startsWith(stepName + '.') || name === stepName) && join(root, name) !== dir) await rm(join(root, name), { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Moves a staged output into the workdir; what it replaces waits under .dprep/trash, off the user's paths, until the new one is in. */
function moveIntoWorkdir(src: string, dst: string, book: string): Promise<void> {
  return replaceDir(src, dst, join(book, 'trash', `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`));
}

function selectSteps(plan: Plan, opts: RunOptions): Set<string> {
  const names = plan.steps.map((s) => s.name);
  const check = (flag: string, name: string) => {
    if (!names.includes(name)) throw new UsageError(`${flag} ${name}: no such step; steps: ${names.join(', ')}`);
  };
  if (opts.force !== 'all') for (const f of opts.force ?? []) check('--force', f);
  let selected = new Set(names);
  if (opts.from) {
    check('--from', opts.from);
    const down = downstreamOf(plan, opts.from);
    selected = new Set([...selected].filter((s) => down.has(s)));
  }
  if (opts.until) {
    check('--until', opts.until);
    const up = upstreamOf(plan, opts.until);
    selected = new Set([...selected].filter((s) => up.has(s)));
  }
  return selected;
}

function union(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

const shown = (abs: string) => relative(process.cwd(), abs) || abs;
const round = (x: number) => Math.round(x * 1000) / 1000;

export function formatSeconds(s: number | undefined): string {
  if (s === undefined) return '-';
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

/** `k=v` pairs, numbers to 4 significant digits, at most `max` of them. */
export function formatMetrics(metrics: Record<string, number | string>, max = 4): string {
  const items = Object.entries(metrics).map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v}`);
  return items.slice(0, max).join(' ') + (items.length > max ? ' …' : '');
}

/**
 * The end-of-run table: step, command, status, time, key metrics.
 * @example console.log(summaryTable(result.steps));
 */
export function summaryTable(records: readonly StepRecord[]): string {
  const rows = [['step', 'command', 'status', 'time', 'metrics'], ...records.map((r) => [r.step, r.uses, r.status, formatSeconds(r.seconds), r.metrics ? formatMetrics(r.metrics) : ''])];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n');
}
