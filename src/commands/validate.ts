/** `dprep validate FILE...`: checks pipeline files without running them. */
import { defineCommand } from '../options.ts';
import { overridesOption, planFile } from './_pipeline-options.ts';
import { UsageError } from '../util/errors.ts';

export const validateCommand = defineCommand({
  id: 'validate',
  summary: 'Check pipeline files: schema, step options, references, cycles, input paths',
  description: `
Checks each file as "dprep run" would before running anything: keys, each step's options
against its command's declaration, \${params.x} and \${steps.S.outputs.KEY} references,
cycles, paths that leave the allowed directories, and input files that do not exist.
Every problem is reported with file, line and column.
Example:  dprep validate pipelines/*.yaml`,
  drivesPipelines: true,
  positional: ['files'],
  options: {
    files: { type: 'list', required: true, help: 'pipeline YAML files' },
    ...overridesOption,
  },
  async run(opts) {
    const problems: string[] = [];
    for (const file of opts.files) {
      try {
        const plan = await planFile(file, opts.set);
        console.log(`ok  ${file}  (${plan.steps.length} steps: ${plan.steps.map((s) => s.name).join(' → ')})`);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        problems.push(err.message);
      }
    }
    if (problems.length) throw new UsageError(problems.join('\n'));
    return { metrics: { files: opts.files.length } };
  },
});
