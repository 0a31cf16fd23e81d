/** `dprep eval report`: several runs' metrics side by side (BM25 / stage 1 / stage 2). */
import { defineCommand } from '../options.ts';

export const evalReportCommand = defineCommand({
  id: 'eval.report',
  summary: 'Put several runs\' metrics side by side as a markdown table and JSON',
  description: `
Each --input is a metrics JSON written by "dprep eval --out", in table order; --label names the rows
in the same order (default: the file names without .json). In a pipeline the inputs are usually
other steps' outputs, so the report runs after them. LABEL=FILE items are accepted too.
Example:  dprep eval report --input bm25.metrics.json,s1.metrics.json,s2.metrics.json \\
            --label bm25,stage1,stage2 --out report.md --json-out report.json`,
  options: {
    input: { type: 'list', required: true, role: 'input', help: 'metrics JSON files (or LABEL=FILE), repeatable or comma-separated' },
    label: { type: 'list', help: 'row labels, in the order of --input (default: file names)' },
    out: { type: 'string', required: true, role: 'output', help: 'markdown table file' },
    jsonOut: { type: 'string', role: 'output', help: 'the same as JSON' },
  },
  async run(opts) {
    const { readFile } = await import('node:fs/promises');
    const { UsageError, InputError } = await import('../util/errors.ts');
    const { renderReportMarkdown, writeReport } = await import('../eval/report.ts');
    const { basename } = await import('node:path');
    const labels = opts.label ?? [];
    if (labels.length > 0 && labels.length !== opts.input.length) {
      throw new UsageError(`--label: ${labels.length} labels for ${opts.input.length} inputs; give one per input, in order`);
    }
    const rows = [];
    for (const [i, item] of opts.input.entries()) {
      const eq = item.indexOf('=');
      const file = eq > 0 && !item.slice(0, eq).includes('/') ? item.slice(eq + 1) : item;
      const label = labels[i] ?? (file === item ? basename(file).replace(/(\.metrics)?\.json$/, '') : item.slice(0, eq));
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        throw new InputError(file, undefined, undefined, `cannot read metrics JSON (${(err as Error).message})`);
      }
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries(data)) if (k !== 'queries' && typeof v === 'number') metrics[k] = v;
      rows.push({ label, metrics, queries: typeof data.queries === 'number' ? data.queries : undefined });
    }
    await writeReport(rows, opts.out, opts.jsonOut);
    console.log(renderReportMarkdown(rows));
  },
});
