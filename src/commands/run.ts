/**
 * `dprep run FILE`: runs a pipeline YAML, skipping steps whose outputs are up to date, and
 * prints a summary table (step, status, time, key metrics). See docs/pipeline.md.
 */
import { defineCommand } from '../options.ts';
import { pipelineOptions, planFile, workdirOptions } from './_pipeline-options.ts';
import { InputError, UsageError } from '../util/errors.ts';

export const runCommand = defineCommand({
  id: 'run',
  summary: 'Run a pipeline YAML: cached, resumable, reproducible',
  description: `
Runs the steps of a pipeline file in dependency order. A step is skipped when its command,
params, input contents and the dprep version match the workdir's lockfile and its outputs
still have the recorded hashes; every step that runs says why. A killed run, run again,
continues from the last finished step (and from a checkpoint inside steps that keep one).
With --executor slurm each step is a Slurm job, a shardable step with units (its units: or
executor.units) an array job of its missing units; killed and run again, the runner re-attaches to
the jobs it recorded. Executor settings never enter the cache key or the lockfile.
Example:  dprep run pipelines/squad-two-stage.yaml --set bm25.depth=200 --until bm25`,
  drivesPipelines: true,
  positional: ['file'],
  options: {
    ...pipelineOptions,
    force: { type: 'list', help: 'steps to rerun even if fresh (repeatable or comma-separated)' },
    forceAll: { type: 'boolean', help: 'rerun every selected step' },
    dryRun: { type: 'boolean', help: 'show what would run and why; run and write nothing' },
    from: { type: 'string', help: 'run only this step and the steps that depend on it' },
    until: { type: 'string', help: 'run only this step and the steps it depends on' },
    executor: { type: 'string', choices: ['local', 'slurm'], default: 'local', help: 'where steps run: this machine, or Slurm jobs (settings: the executor: block or --set executor.KEY=VALUE)' },
    ...workdirOptions,
  },
  async run(opts) {
    const { joinOverrides } = await import('../pipeline/plan.ts');
    const { runPipeline, summaryTable } = await import('../pipeline/runner.ts');
    const overrides = joinOverrides(opts.set ?? []);
    const plan = await planFile(opts.file, opts.set, { workdir: opts.workdir });
    const result = await runPipeline(plan, {
      force: opts.forceAll ? 'all' : opts.force,
      from: opts.from,
      until: opts.until,
      dryRun: opts.dryRun,
      verifyHashes: opts.verifyHashes,
      overrides,
      executor: opts.executor,
    });
    console.log(summaryTable(result.steps));
    if (result.manifest) process.stderr.write(`run manifest: ${result.manifest}\n`);
    const err = result.error;
    if (err) {
      // Keep the exit code of the underlying problem (2 for bad input or usage), but name the step.
      const at = ` [in step ${err.step} (${err.uses})]`;
      if (err.cause instanceof InputError) throw new InputError(err.cause.file, err.cause.record, err.cause.field, err.cause.problem + at);
      if (err.cause instanceof UsageError) throw new UsageError(err.cause.message + at);
      throw err;
    }
    const count = (status: string) => result.steps.filter((s) => s.status === status).length;
    return { metrics: { ran: count('ran'), cached: count('cached') } };
  },
});
