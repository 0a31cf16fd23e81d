/** `dprep status FILE`: which steps of a pipeline are fresh, stale or missing, and why. */
import { defineCommand } from '../options.ts';

export const statusCommand = defineCommand({
  id: 'status',
  summary: 'Show which pipeline steps are fresh, stale or missing, and why',
  description: `
Compares each step with the workdir's lockfile and outputs, without running or writing
anything. "missing": never run, or an output is gone; "stale": a param, an input, the dprep
version or an upstream step changed, or an output was edited. With --json prints
[{"step", "state", "reason"}].
Example:  dprep status pipelines/squad-two-stage.yaml --json`,
  positional: ['file'],
  options: {
    file: { type: 'string', required: true, help: 'pipeline YAML file' },
    json: { type: 'boolean', help: 'print JSON instead of a table' },
    set: { type: 'list', help: 'override STEP.OPTION=VALUE or params.NAME=VALUE (repeatable)' },
    workdir: { type: 'string', help: "the run's workdir (default: the pipeline's workdir:)" },
    verifyHashes: { type: 'boolean', help: 're-read every file instead of trusting the hash cache' },
  },
  async run(opts) {
    const { readPipelineFile } = await import('../pipeline/schema.ts');
    const { planPipeline, joinOverrides } = await import('../pipeline/plan.ts');
    const { pipelineStatus } = await import('../pipeline/runner.ts');
    const plan = planPipeline(await readPipelineFile(opts.file), { overrides: joinOverrides(opts.set ?? []), workdir: opts.workdir });
    const states = await pipelineStatus(plan, { verifyHashes: opts.verifyHashes });
    if (opts.json) console.log(JSON.stringify(states));
    else {
      const width = Math.max(4, ...states.map((s) => s.step.length));
      console.log(states.map((s) => `${s.step.padEnd(width)}  ${s.state.padEnd(7)}  ${s.reason}`).join('\n'));
    }
    return { metrics: { fresh: states.filter((s) => s.state === 'fresh').length, steps: states.length } };
  },
});
