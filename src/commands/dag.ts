/** `dprep dag FILE`: the step graph of a pipeline, as text and as a Mermaid flowchart. */
import { defineCommand } from '../options.ts';
import { pipelineOptions, planFile } from './_pipeline-options.ts';

export const dagCommand = defineCommand({
  id: 'dag',
  summary: 'Show the step graph of a pipeline (text and Mermaid)',
  description: `
Prints each step in run order with what it reads and writes, then a Mermaid flowchart whose
edges say which output feeds which input. Input files need not exist yet.
Example:  dprep dag pipelines/squad-two-stage.yaml --format mermaid > dag.mmd`,
  drivesPipelines: true,
  positional: ['file'],
  options: {
    ...pipelineOptions,
    format: { type: 'string', choices: ['both', 'text', 'mermaid'] as const, default: 'both', help: 'what to print' },
  },
  async run(opts) {
    const { dagText, dagMermaid } = await import('../pipeline/dag.ts');
    const plan = await planFile(opts.file, opts.set, { checkInputsExist: false });
    const parts: string[] = [];
    if (opts.format !== 'mermaid') parts.push(dagText(plan));
    if (opts.format === 'mermaid') parts.push(dagMermaid(plan));
    if (opts.format === 'both') parts.push('```mermaid\n' + dagMermaid(plan) + '\n```');
    console.log(parts.join('\n\n'));
  },
});
