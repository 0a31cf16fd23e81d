/**
 * The run manifest (`<workdir>/runs/<timestamp>.json`): one per `dprep run`, rewritten after
 * every step so a killed run leaves a record too. It holds what the lockfile leaves out on
 * purpose: versions of dprep, Node and dependencies, machine, seeds, timings and metrics.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { arch, cpus, platform, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { DPREP_VERSION } from '../version.ts';
import type { ExecutorKind, ExecutorReport, ExecutorSettings } from './executor.ts';

export type StepStatus = 'ran' | 'cached' | 'failed' | 'not-selected' | 'not-run' | 'would-run';

export interface StepRecord {
  step: string;
  uses: string;
  status: StepStatus;
  /** Why it ran (or why it was skipped). */
  reason: string;
  seed: number;
  key?: string;
  seconds?: number;
  metrics?: Record<string, number | string>;
  error?: string;
  /** Where it ran: executor, units, job ids, attempts (retries and why), hosts. */
  executor?: ExecutorReport;
}

export interface RunManifest {
  dprep: string;
  node: string;
  platform: string;
  cpu: string;
  memoryGB: number;
  /** Versions of dprep's dependencies as installed (tfjs, faiss, tokenizers …). */
  dependencies: Record<string, string>;
  /** Compute backends reported by steps (`metrics.backend`), e.g. tfjs "cpu" or "tensorflow". */
  backends: Record<string, string>;
  pipeline: { name: string; file: string; sha256: string };
  workdir: string;
  seed: number;
  overrides: string[];
  /** The executor and its settings (they decide where steps ran, never their bytes: not in the lockfile). */
  executor?: { kind: ExecutorKind; settings: Partial<ExecutorSettings> };
  started: string;
  finished?: string;
  status: 'running' | 'ok' | 'failed';
  steps: StepRecord[];
}

const REPO_ROOT = new URL('../../', import.meta.url);

/** Installed versions of the packages dprep depends on (declared and optional backends). */
export function dependencyVersions(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(new URL('package.json', REPO_ROOT), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
  const names = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}), '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'faiss-node']);
  const out: Record<string, string> = {};
  for (const name of [...names].sort()) {
    try {
      out[name] = JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, REPO_ROOT), 'utf8')).version;
    } catch {
      // not installed: optional backends usually are not
    }
  }
  return out;
}

/** Keeps the manifest of one run and writes it atomically on every change. */
export class ManifestWriter {
  readonly path: string;
  readonly manifest: RunManifest;

  constructor(workdir: string, init: { name: string; file: string; text: string; seed: number; overrides: readonly string[]; executor?: { kind: ExecutorKind; settings: Partial<ExecutorSettings> } }) {
    const started = new Date();
    // A timestamp name sorts runs in time order; the pid keeps two runs in the same second apart.
    this.path = join(workdir, 'runs', `${started.toISOString().replace(/[:.]/g, '-')}-${process.pid}.json`);
    const cpu = cpus();
    this.manifest = {
      dprep: DPREP_VERSION,
      node: process.version,
      platform: `${platform()} ${arch()}`,
      cpu: `${cpu.length} × ${cpu[0]?.model ?? 'unknown'}`,
      memoryGB: Math.round(totalmem() / 2 ** 30),
      dependencies: dependencyVersions(),
      backends: {},
      pipeline: { name: init.name, file: init.file, sha256: createHash('sha256').update(init.text).digest('hex') },
      workdir,
      seed: init.seed,
      overrides: [...init.overrides],
      ...(init.executor ? { executor: init.executor } : {}),
      started: started.toISOString(),
      status: 'running',
      steps: [],
    };
  }

  async record(step: StepRecord): Promise<void> {
    const i = this.manifest.steps.findIndex((s) => s.step === step.step);
    if (i >= 0) this.manifest.steps[i] = step;
    else this.manifest.steps.push(step);
    if (step.metrics && typeof step.metrics.backend === 'string') this.manifest.backends[step.step] = step.metrics.backend;
    await this.save();
  }

  async finish(status: 'ok' | 'failed'): Promise<void> {
    this.manifest.status = status;
    this.manifest.finished = new Date().toISOString();
    await this.save();
  }

  save(): Promise<void> {
    return writeFileAtomic(this.path, JSON.stringify(this.manifest, null, 2) + '\n');
  }
}
