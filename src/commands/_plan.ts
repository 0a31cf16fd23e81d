/**
 * The library's `planPipeline` (what src/index.ts exports): the planner over dprep's own step
 * commands unless the caller passes a registry. The planner itself (pipeline/plan.ts) always
 * takes its commands from the caller, so pipeline/ never imports the commands.
 */
import { planPipeline as planWith, type Plan, type PlanOptions as CorePlanOptions } from '../pipeline/plan.ts';
import { commandRegistry } from '../pipeline/registry.ts';
import type { PipelineSpec } from '../pipeline/schema.ts';
import { stepCommands } from './_step-commands.ts';

/** `planPipeline`'s options; `commands` defaults to every command a step may use. */
export type PlanOptions = Omit<CorePlanOptions, 'commands'> & Partial<Pick<CorePlanOptions, 'commands'>>;

/**
 * Resolves a pipeline into a plan, reporting every problem at once (PipelineError).
 * @example const plan = planPipeline(await readPipelineFile('p.yaml'), { overrides: ['train.lr=3e-5'] });
 */
export function planPipeline(spec: PipelineSpec, opts: PlanOptions = {}): Plan {
  return planWith(spec, { ...opts, commands: opts.commands ?? commandRegistry(stepCommands) });
}
