/** `dprep status FILE`: which steps of a pipeline are fresh, stale or missing, and why. */
import { defineCommand } from '../options.ts';
import { pipelineOptions, planFile, workdirOptions } from './_pipeline-options.ts';

export const statusCommand = defineCommand({
  id: 'status',
  summary: 'Show which pipeline steps are fresh, stale or missing, and why',
  description: `
Compares each step with the workdir's lockfile and outputs, without running or writing
anything. "missing": never run, or an output is gone; "stale": a param, an input, the dprep
version or an upstream step changed, or an output was edited. With --json prints
[{"step", "state", "reason", "progress"?}]. A step part-way done (a killed run, or one whose
Slurm jobs still run) shows its committed units, job ids and retries.
Example:  dprep status pipelines/squad-two-stage.yaml --json`,
  drivesPipelines: true,
  positional: ['file'],
  options: {
    ...pipelineOptions,
    json: { type: 'boolean', help: 'print JSON instead of a table' },
    ...workdirOptions,
  },
  async run(opts) {
    const { pipelineStatus } = await import('../pipeline/runner.ts');
    const plan = await planFile(opts.file, opts.set, { workdir: opts.workdir });
    const states = await pipelineStatus(plan, { verifyHashes: opts.verifyHashes });
    if (opts.json) console.log(JSON.stringify(states));
    else {
      const width = Math.max(4, ...states.map((s) => s.step.length));
      const progress = (s: (typeof states)[number]) => {
        const p = s.progress;
        if (!p) return '';
        const parts = [p.units !== undefined ? `units ${p.done}/${p.units} done` : '', p.jobs.length ? `jobs ${p.jobs.join(',')}` : '', `retries ${p.retries}`, p.requeues ? `requeued ${p.requeues}` : ''];
        return ` [${parts.filter(Boolean).join('; ')}]`;
      };
      console.log(states.map((s) => `${s.step.padEnd(width)}  ${s.state.padEnd(7)}  ${s.reason}${progress(s)}`).join('\n'));
    }
    return { metrics: { fresh: states.filter((s) => s.state === 'fresh').length, steps: states.length } };
  },
});
