/** Options shared by the pipeline commands (`run`, `status`, `dag`, `validate`), declared once. */
import type { Plan, PlanOptions } from '../pipeline/plan.ts';

export const overridesOption = {
  set: { type: 'list', help: 'override STEP.OPTION=VALUE or params.NAME=VALUE (repeatable)' },
} as const;

export const pipelineOptions = {
  file: { type: 'string', required: true, help: 'pipeline YAML file' },
  ...overridesOption,
} as const;

export const workdirOptions = {
  workdir: { type: 'string', help: "where outputs, lockfile and run manifests go (default: the pipeline's workdir:)" },
  verifyHashes: { type: 'boolean', help: 're-read every input and output instead of trusting the size/mtime/inode hash cache' },
} as const;

/** Reads a pipeline file and plans it with the `--set` overrides, over the commands a step may use. */
export async function planFile(file: string, set: readonly string[] | undefined, options: Omit<PlanOptions, 'overrides' | 'commands'> = {}): Promise<Plan> {
  const { readPipelineFile } = await import('../pipeline/schema.ts');
  const { joinOverrides } = await import('../pipeline/plan.ts');
  const { planPipeline } = await import('./_plan.ts');
  return planPipeline(await readPipelineFile(file), { ...options, overrides: joinOverrides(set ?? []) });
}
