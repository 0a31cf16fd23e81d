/**
 * The Slurm executor (issue 14): a step's units become one `sbatch --array` job (later ones
 * resubmit only the missing units), a whole step one single-task array job. Job ids are written to
 * the step's state dir before the first poll, so a killed runner run again re-attaches to its jobs
 * instead of submitting twice. Only a unit's committed output (its done marker) counts as done;
 * the scheduler's word (scontrol, else sacct, else the result file the job script writes) says
 * only why a unit without one stopped:
 * - exit 2 (bad input or usage): the step stops, no retry;
 * - failed, out of memory, timed out, or exited 0 without committing: retried up to `retries`;
 * - preempted, requeued, node failure, vanished from the queue: resubmitted without using the budget.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../io/atomic.ts';
import { InputError } from '../util/errors.ts';
import { readUnitDone } from '../util/units.ts';
import { recordedPathEnv } from '../util/summary.ts';
import type { CommandResult } from '../options.ts';
import { readExecutorFile, settingsShown, writeExecutorFile, type AttemptRecord, type Executor, type ExecutorReport, type ExecutorSettings, type UnitWork, type WholeWork } from './executor.ts';

/** The `dprep` entry point a job runs (this checkout's). */
export const DPREP_BIN = fileURLToPath(new URL('../../bin/dprep.js', import.meta.url));

/** What the executor keeps in the step's state dir (executor.json). */
export interface SlurmRecord {
  kind: 'slurm';
  name: string;
  units: number;
  whole: boolean;
  jobs: { id: string; units: number[]; script: string }[];
  /** Final outcome of each job task already judged (`123_4` → attempt). */
  judged: Record<string, AttemptRecord>;
}

/** One array task as the scheduler reports it. */
export interface TaskState {
  unit: number;
  state: string;
  /** Exit code of the job script (`ExitCode=2:0` → 2). */
  exit?: number;
  host?: string;
  restarts?: number;
  reason?: string;
}

const ACTIVE = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING', 'RESV_DEL_HOLD', 'STOPPED']);
/** Final states that say nothing against the unit: resubmitted without using the retry budget. */
const NOT_COUNTED: Record<string, AttemptRecord['outcome']> = { PREEMPTED: 'preempted', NODE_FAIL: 'node-fail', BOOT_FAIL: 'node-fail', LOST: 'lost' };
const COUNTED: Record<string, AttemptRecord['outcome']> = { TIMEOUT: 'timeout', DEADLINE: 'timeout', OUT_OF_MEMORY: 'out-of-memory', CANCELLED: 'cancelled', FAILED: 'failed', COMPLETED: 'failed' };

/** Seconds of a Slurm time limit (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`). */
export function timeLimitSeconds(t: string): number {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t.trim());
  if (!m) throw new InputError('executor', undefined, 'time', `expected a Slurm time limit (MM, HH:MM:SS or D-HH:MM:SS), got "${t}"`);
  const [, d, a, b, c] = m;
  const nums = [a, b, c].filter((x) => x !== undefined).map(Number);
  if (d !== undefined) return Number(d) * 86400 + (nums[0] ?? 0) * 3600 + (nums[1] ?? 0) * 60 + (nums[2] ?? 0);
  if (nums.length === 1) return nums[0] * 60;
  if (nums.length === 2) return nums[0] * 60 + nums[1];
  return nums[0] * 3600 + nums[1] * 60 + nums[2];
}

/** Compresses unit numbers into an sbatch array list: [0,1,2,5] → "0-2,5". */
export function arrayList(units: readonly number[]): string {
  const sorted = [...new Set(units)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Expands an array list as scontrol/sacct print it ("0-2,5%4", "[3-4]") into unit numbers. */
export function expandList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.replace(/[[\]]/g, '').split('%')[0].split(',')) {
    const m = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const [a, b, step] = [Number(m[1]), m[2] ? Number(m[2]) : Number(m[1]), m[3] ? Number(m[3]) : 1];
    for (let i = a; i <= b; i += step) out.push(i);
  }
  return out;
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export interface ScriptSpec {
  name: string;
  stateDir: string;
  cwd: string;
  argv: string[];
  /** Units to run; with `units` set each task runs `--unit $SLURM_ARRAY_TASK_ID --units N`. */
  array: number[];
  units?: number;
  settings: ExecutorSettings;
  env?: Record<string, string>;
}

/**
 * The `#!/bin/bash` array script of one submission. The job's own output (log), result file and
 * requeue-on-signal live under the state dir. The checkpoint signal (USR1, `--signal=B:USR1@S`,
 * S ≤ 120 s and at most a tenth of the limit) makes the script stop dprep (TERM) and requeue the
 * task, which resumes from its checkpoint or redoes only an uncommitted unit.
 */
export function jobScript(spec: ScriptSpec): string {
  const s = spec.settings;
  const limit = timeLimitSeconds(s.time);
  const signalAt = Math.max(10, Math.min(120, Math.floor(limit / 10)));
  const sb = [
    `--job-name=${spec.name}`,
    `--array=${arrayList(spec.array)}%${s.maxParallel}`,
    `--time=${s.time}`,
    '--requeue',
    `--signal=B:USR1@${signalAt}`,
    `--output=${join(spec.stateDir, 'logs', '%A_%a.log')}`,
    '--open-mode=append',
    '--ntasks=1',
  ];
  if (s.partition) sb.push(`--partition=${s.partition}`);
  if (s.account) sb.push(`--account=${s.account}`);
  if (s.qos) sb.push(`--qos=${s.qos}`);
  if (s.gpus) sb.push(`--gpus=${s.gpus}`);
  if (s.cpus) sb.push(`--cpus-per-task=${s.cpus}`);
  if (s.mem) sb.push(`--mem=${s.mem}`);
  const unitArgs = spec.units !== undefined ? ` --unit "$SLURM_ARRAY_TASK_ID" --units ${spec.units}` : '';
  const results = join(spec.stateDir, 'results');
  return [
    '#!/bin/bash',
    ...sb.map((o) => `#SBATCH ${o}`),
    `# made by dprep for step ${spec.name}; the runner that submitted it re-attaches by the job id in ${join(spec.stateDir, 'executor.json')}`,
    'set -u',
    `cd ${q(spec.cwd)} || exit 1`,
    ...Object.entries(spec.env ?? {}).map(([k, v]) => `export ${k}=${q(v)}`),
    'tag="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
    `echo "dprep: task $tag on $(hostname), restart \${SLURM_RESTART_COUNT:-0}, $(date -u +%FT%TZ)"`,
    'child=',
    'requeued=0',
    // The task's own id: the last task of an array carries the array's job id, and requeueing that would requeue every task.
    'on_usr1() { echo "dprep: time limit near: stopping and requeueing $tag"; requeued=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; scontrol requeue "$tag"; }',
    'trap on_usr1 USR1',
    `${[process.execPath, DPREP_BIN, ...spec.argv].map(q).join(' ')}${unitArgs} &`,
    'child=$!',
    'wait "$child"; rc=$?',
    'while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done',
    '[ "$requeued" = 1 ] && exit 0',
    `mkdir -p ${q(results)}`,
    `printf '{"rc":%d,"host":"%s","restart":%d}\\n' "$rc" "$(hostname)" "\${SLURM_RESTART_COUNT:-0}" > ${q(results)}/"$tag.json.tmp" && mv -f ${q(results)}/"$tag.json.tmp" ${q(results)}/"$tag.json"`,
    'echo "dprep: task $tag exit $rc"',
    'exit "$rc"',
    '',
  ].join('\n');
}

/** Runs a scheduler command; rejects with its stderr. PATH decides which binaries (tests put fakes first). */
export function slurmCall(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolveP, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolveP(stdout);
    });
  });
}

/** `Key=Value` fields of one `scontrol show job -o` line. */
function fields(line: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const tok of line.trim().split(/\s+/)) {
    const eq = tok.indexOf('=');
    if (eq > 0) m.set(tok.slice(0, eq), tok.slice(eq + 1));
  }
  return m;
}

const exitOf = (code: string | undefined) => (code && /^\d+/.test(code) ? Number(code.split(':')[0]) : undefined);

/**
 * The tasks of one array job: scontrol first (it keeps finished jobs for MinJobAge), then sacct
 * (accounting), then the job script's result files; a task none of them knows is LOST.
 */
export async function jobTasks(jobId: string, units: readonly number[], resultsDir: string): Promise<Map<number, TaskState>> {
  const out = new Map<number, TaskState>();
  try {
    const text = await slurmCall('scontrol', ['show', 'job', '-o', jobId]);
    for (const line of text.split('\n').filter((l) => l.includes('JobId='))) {
      const f = fields(line);
      const ids = f.has('ArrayTaskId') ? expandList(f.get('ArrayTaskId')!) : [0];
      const host = f.get('BatchHost') ?? f.get('NodeList');
      for (const unit of ids) {
        out.set(unit, { unit, state: (f.get('JobState') ?? 'UNKNOWN').split('+')[0], exit: exitOf(f.get('ExitCode')), host: host && host !== '(null)' ? host : undefined, restarts: Number(f.get('Restarts') ?? 0), reason: f.get('Reason') });
      }
    }
  } catch {
    try {
      const text = await slurmCall('sacct', ['-n', '-P', '-X', '-j', jobId, '-o', 'JobID,State,ExitCode,NodeList']);
      for (const line of text.split('\n').filter(Boolean)) {
        const [id, state, code, host] = line.split('|');
        const m = /_(.+)$/.exec(id);
        for (const unit of m ? expandList(m[1]) : [0]) out.set(unit, { unit, state: state.split(' ')[0], exit: exitOf(code), host: host || undefined });
      }
    } catch {
      // neither knows the job any more: the result files say what they can
    }
  }
  for (const unit of units) {
    if (out.has(unit)) continue;
    const file = join(resultsDir, `${jobId}_${unit}.json`);
    if (existsSync(file)) {
      try {
        const r = JSON.parse(readFileSync(file, 'utf8')) as { rc: number; host: string };
        out.set(unit, { unit, state: r.rc === 0 ? 'COMPLETED' : 'FAILED', exit: r.rc, host: r.host });
        continue;
      } catch {
        // half-written: fall through
      }
    }
    out.set(unit, { unit, state: 'LOST' });
  }
  return out;
}

/** Why a task that ended without committing its unit ended, and whether that uses the budget. */
export function judge(t: TaskState): Pick<AttemptRecord, 'outcome' | 'counted'> {
  if (t.exit === 2 && (t.state === 'FAILED' || t.state === 'COMPLETED')) return { outcome: 'bad-input', counted: false };
  if (t.state in NOT_COUNTED) return { outcome: NOT_COUNTED[t.state], counted: false };
  return { outcome: COUNTED[t.state] ?? 'failed', counted: true };
}

/** Resubmissions a unit may get without using the budget (preemptions, node failures) before the step gives up. */
const MAX_UNCOUNTED = 20;

export class SlurmExecutor implements Executor {
  readonly kind = 'slurm' as const;
  constructor(readonly settings: ExecutorSettings) {}

  runUnits(work: UnitWork): Promise<ExecutorReport> {
    return this.drive({ ...work, whole: false, isDone: (u) => readUnitDone(work.unitOut, u, work.units) !== undefined });
  }

  async runWhole(work: WholeWork): Promise<{ result: CommandResult | void; report: ExecutorReport }> {
    const resultFile = join(work.stateDir, 'command-result.json');
    const report = await this.drive({
      ...work,
      units: 1,
      whole: true,
      env: { DPREP_STATE_DIR: work.stateDir, DPREP_RESULT_FILE: resultFile },
      isDone: () => existsSync(resultFile),
    });
    const result = JSON.parse(await readFile(resultFile, 'utf8')) as CommandResult;
    return { result, report };
  }

  /** Submits what is missing, polls, judges, resubmits, until every unit is done; throws on a unit that fails for good. */
  private async drive(w: { step: string; stateDir: string; units: number; argv: string[]; whole: boolean; env?: Record<string, string>; isDone(u: number): boolean; log(line: string): void }): Promise<ExecutorReport> {
    const s = this.settings;
    const name = `dprep-${w.step}-${w.stateDir.split('.').pop()!.slice(0, 8)}`;
    const resultsDir = join(w.stateDir, 'results');
    await mkdir(join(w.stateDir, 'logs'), { recursive: true });
    let rec = await readExecutorFile<SlurmRecord>(w.stateDir);
    if (!rec || rec.units !== w.units || rec.whole !== w.whole) rec = { kind: 'slurm', name, units: w.units, whole: w.whole, jobs: [], judged: {} };
    else if (rec.jobs.length) w.log(`re-attaching to Slurm job${rec.jobs.length > 1 ? 's' : ''} ${rec.jobs.map((j) => j.id).join(', ')}`);
    const save = () => writeExecutorFile(w.stateDir, rec);
    const report = (): ExecutorReport => {
      const attempts = Object.values(rec!.judged);
      return {
        kind: 'slurm',
        settings: settingsShown(s),
        units: w.whole ? undefined : w.units,
        jobs: rec!.jobs.map((j) => ({ id: j.id, units: j.units, script: j.script })),
        attempts,
        hosts: [...new Set(attempts.map((a) => a.host).filter((h): h is string => !!h))].sort(),
      };
    };
    const finalStates = new Map<string, TaskState>();
    const seenEnded = new Map<string, string>();
    // Tasks whose unit is committed but which were still finishing (RUNNING, COMPLETING) at the last look.
    const finishing = new Map<string, TaskState>();
    // Jobs with a task not yet judged: still queued or running, or ended unseen.
    const open = () => rec!.jobs.filter((j) => j.units.some((u) => !rec!.judged[`${j.id}_${u}`])).map((j) => j.id);
    try {
      await this.loop(w, rec, save, resultsDir, finalStates, seenEnded, finishing);
    } catch (err) {
      // The step stops: its other tasks would only burn the allocation (and write into a staging dir nobody merges).
      const ids = open();
      if (ids.length) {
        w.log(`cancelling Slurm job${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`);
        await slurmCall('scancel', ids).catch((e: Error) => w.log(`could not cancel: ${e.message}`));
      }
      throw err;
    }
    // Every unit is committed: a task still queued or running (a requeued duplicate) has nothing left to do.
    const stray = open();
    if (stray.length) await slurmCall('scancel', stray).catch((err: Error) => w.log(`could not cancel leftover job(s) ${stray.join(', ')}: ${err.message}`));
    // A task whose unit committed while it was still finishing did the work: it is an attempt like any other.
    for (const [tag, t] of finishing) {
      if (!rec.judged[tag]) rec.judged[tag] = { unit: t.unit, job: tag, outcome: 'done', counted: false, host: t.host, ...(t.restarts ? { detail: `requeued ${t.restarts}×` } : {}) };
    }
    for (const [tag, t] of finalStates) {
      const a = rec.judged[tag];
      if (a && !a.detail?.includes('requeued')) a.detail = [a.detail, `requeued ${t.restarts}×`].filter(Boolean).join('; ');
    }
    await save();
    return report();
  }

  private async loop(
    w: { step: string; stateDir: string; units: number; argv: string[]; whole: boolean; env?: Record<string, string>; isDone(u: number): boolean; log(line: string): void },
    rec: SlurmRecord,
    save: () => Promise<void>,
    resultsDir: string,
    finalStates: Map<string, TaskState>,
    seenEnded: Map<string, string>,
    finishing: Map<string, TaskState>,
  ): Promise<void> {
    const s = this.settings;
    for (;;) {
      // Tasks of recorded jobs that ended with a committed unit are judged done (for hosts and the manifest).
      const latest = new Map<number, string>();
      for (const j of rec.jobs) for (const u of j.units) latest.set(u, j.id);
      const byJob = new Map<string, number[]>();
      for (const [u, id] of latest) if (!rec.judged[`${id}_${u}`]) (byJob.get(id) ?? byJob.set(id, []).get(id)!).push(u);
      const states = new Map<number, TaskState>();
      for (const [id, units] of byJob) {
        const tasks = await jobTasks(id, units, resultsDir);
        for (const u of units) if (tasks.has(u)) states.set(u, tasks.get(u)!);
      }
      const toSubmit: number[] = [];
      for (let u = 0; u < w.units; u++) {
        const id = latest.get(u);
        const t = states.get(u);
        if (id && t && (t.restarts ?? 0) > 0) finalStates.set(`${id}_${u}`, t);
        // Looked at after the scheduler: a task that ended has committed its unit by now, or never will.
        if (w.isDone(u)) {
          if (id && t && ACTIVE.has(t.state)) finishing.set(`${id}_${u}`, t);
          else if (id && t) rec.judged[`${id}_${u}`] = { unit: u, job: `${id}_${u}`, outcome: 'done', counted: false, host: t.host, ...(t.restarts ? { detail: `requeued ${t.restarts}×` } : {}) };
          continue;
        }
        if (!id) {
          toSubmit.push(u);
          continue;
        }
        const tag = `${id}_${u}`;
        if (!rec.judged[tag]) {
          if (!t || ACTIVE.has(t.state)) {
            seenEnded.delete(tag);
            continue;
          }
          // A task being requeued can show FAILED for a moment before PENDING: judge a state seen on two looks in a row.
          const seen = `${t.state} ${t.exit} ${t.restarts ?? 0}`;
          if (seenEnded.get(tag) !== seen) {
            seenEnded.set(tag, seen);
            continue;
          }
          const j = judge(t);
          const logFile = join(w.stateDir, 'logs', `${tag}.log`);
          rec.judged[tag] = { unit: u, job: tag, ...j, host: t.host, detail: `${t.state}${t.exit !== undefined ? ` exit ${t.exit}` : ''}${t.reason && t.reason !== 'None' ? ` (${t.reason})` : ''}` };
          await save();
          if (j.outcome === 'bad-input') {
            throw new InputError(logFile, undefined, undefined, `${w.whole ? 'the step' : `unit ${u} of ${w.units}`} (Slurm job ${tag}) stopped on bad input (exit 2), not retried: ${lastLines(logFile)}`);
          }
        }
        const mine = Object.values(rec.judged).filter((a) => a.unit === u);
        const counted = mine.filter((a) => a.counted).length;
        const uncounted = mine.filter((a) => !a.counted && a.outcome !== 'done').length;
        const last = rec.judged[tag];
        if (counted > s.retries) throw new Error(`${w.whole ? 'the step' : `unit ${u} of ${w.units}`} failed ${counted} times (retries: ${s.retries}); last: Slurm job ${tag} ${last.detail}; log ${join(w.stateDir, 'logs', `${tag}.log`)}: ${lastLines(join(w.stateDir, 'logs', `${tag}.log`))}`);
        if (uncounted > MAX_UNCOUNTED) throw new Error(`unit ${u} was preempted or lost ${uncounted} times; giving up`);
        w.log(`${w.whole ? 'job' : `unit ${u}`} ${last.outcome} (Slurm job ${tag}: ${last.detail}); resubmitting${last.counted ? ` (retry ${counted} of ${s.retries})` : ' (not counted against retries)'}`);
        toSubmit.push(u);
      }
      if (!toSubmit.length && [...Array(w.units).keys()].every((u) => w.isDone(u))) break;
      if (toSubmit.length) {
        const script = join(w.stateDir, `job-${rec.jobs.length + 1}.sh`);
        await writeFileAtomic(
          script,
          jobScript({ name: rec.name, stateDir: w.stateDir, cwd: process.cwd(), argv: w.argv, array: toSubmit, units: w.whole ? undefined : w.units, settings: s, env: { ...(w.env ?? {}), ...recordedPathEnv(), ...passEnv() } }),
        );
        const out = await slurmCall('sbatch', ['--parsable', script]);
        const id = out.trim().split(';')[0];
        if (!/^\d+$/.test(id)) throw new Error(`sbatch --parsable ${script}: expected a job id, got "${out.trim()}"`);
        // Recorded before the first poll: a runner killed from here on re-attaches to this job.
        rec.jobs.push({ id, units: toSubmit, script });
        await save();
        w.log(`submitted Slurm job ${id} (array ${arrayList(toSubmit)}%${s.maxParallel}) for ${w.whole ? 'the step' : `${toSubmit.length} of ${w.units} units`}`);
        continue;
      }
      await sleep(s.poll * 1000);
    }
  }
}

/** Environment a job needs that sbatch's default --export=ALL would carry anyway; written so a resubmission from another shell behaves the same. */
function passEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['DPREP_TEST_COMMANDS', 'DPREP_QUIET']) if (process.env[k] !== undefined) out[k] = process.env[k]!;
  return out;
}

function lastLines(file: string, n = 3): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter((l) => !l.startsWith('dprep: task')).slice(-n).join(' | ') || '(log empty)';
  } catch {
    return '(no log)';
  }
}

