/** `dprep eval report`: several runs' metrics side by side (BM25 / stage 1 / stage 2). */
import { defineCommand } from '../options.ts';

export const evalReportCommand = defineCommand({
  id: 'eval.report',
  summary: 'Put several runs\' metrics side by side as a markdown table and JSON',
  description: `
Each --input is LABEL=FILE, FILE being a metrics JSON written by "dprep eval --out", in table order.
Example:  dprep eval report --input bm25=bm25.metrics.json --input stage1=s1.metrics.json \\
            --input stage2=s2.metrics.json --out report.md --json-out report.json`,
  options: {
    input: { type: 'list', required: true, help: 'LABEL=metrics.json, repeatable or comma-separated' },
    out: { type: 'string', required: true, role: 'output', help: 'markdown table file' },
    jsonOut: { type: 'string', role: 'output', help: 'the same as JSON' },
  },
  async run(opts) {
    const { readFile } = await import('node:fs/promises');
    const { UsageError, InputError } = await import('../util/errors.ts');
    const { renderReportMarkdown, writeReport } = await import('../eval/report.ts');
    const rows = [];
    for (const item of opts.input) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new UsageError(`--input: expected LABEL=FILE, got "${item}"`);
      const file = item.slice(eq + 1);
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        throw new InputError(file, undefined, undefined, `cannot read metrics JSON (${(err as Error).message})`);
      }
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries(data)) if (k !== 'queries' && typeof v === 'number') metrics[k] = v;
      rows.push({ label: item.slice(0, eq), metrics, queries: typeof data.queries === 'number' ? data.queries : undefined });
    }
    await writeReport(rows, opts.out, opts.jsonOut);
    console.log(renderReportMarkdown(rows));
  },
});
