/** Shared by the pipeline tests: a temp project, a pipeline in it, and a plan over test commands. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { matchCommand } from '../../src/commands/match.ts';
import { debugCommands } from '../../src/commands/debug.ts';
import { readPipelineFile } from '../../src/pipeline/schema.ts';
import { planPipeline, type Plan, type PlanOptions } from '../../src/pipeline/plan.ts';
import { commandRegistry } from '../../src/pipeline/registry.ts';
import { runPipeline, type RunOptions, type RunResult } from '../../src/pipeline/runner.ts';

/** The registry the in-process tests use: the test command and the real `match`. */
export const TEST_COMMANDS = commandRegistry([...debugCommands, matchCommand]);

/** Plan options with the test registry as the default `commands`. */
export type TestPlanOptions = Partial<PlanOptions>;

/** A fresh temp directory, removed when the test file ends. */
export async function tempProject(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dprep-pipeline-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function writePipeline(dir: string, yaml: string, name = 'p.yaml'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, yaml);
  return file;
}

export async function plan(file: string, opts: TestPlanOptions = {}): Promise<Plan> {
  return planPipeline(await readPipelineFile(file), { commands: TEST_COMMANDS, ...opts });
}

/** Plans and runs quietly; returns the result and the progress lines. */
export async function run(file: string, planOpts: TestPlanOptions = {}, runOpts: RunOptions = {}): Promise<RunResult & { lines: string[]; byStep: Record<string, string> }> {
  const lines: string[] = [];
  const result = await runPipeline(await plan(file, planOpts), { log: (l) => lines.push(l), ...runOpts });
  return { ...result, lines, byStep: Object.fromEntries(result.steps.map((s) => [s.step, s.status])) };
}

export const read = (path: string) => readFile(path, 'utf8');

/** Four steps: a feeds b and c; c feeds d. `n` is a param of c. */
export const DIAMOND = `
name: diamond
seed: 13
params:
  n: 4
steps:
  a:
    uses: debug.write
    with: { input: [in.txt], out: a.txt, lines: 3 }
  b:
    uses: debug.write
    with: { input: ['\${steps.a.outputs.out}'], out: b.txt, text: bee }
  c:
    uses: debug.write
    with: { input: ['\${steps.a.outputs.out}'], out: c/c.txt, lines: '\${params.n}' }
  d:
    uses: debug.write
    with: { input: ['\${steps.c.outputs.out}', in.txt], out: d.txt, out-dir: d-parts, lines: 2 }
`;
