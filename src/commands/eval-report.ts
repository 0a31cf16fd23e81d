/** `dprep eval report`: several runs' metrics side by side (BM25 / stage 1 / stage 2). */
import { defineCommand } from '../options.ts';

export const evalReportCommand = defineCommand({
  id: 'eval.report',
  summary: 'Put several runs\' metrics side by side: a markdown table, JSON, and an HTML page with charts',
  description: `
Each --input is a metrics JSON written by "dprep eval --out", in table order; --label names the rows
in the same order (default: the file names without .json). In a pipeline the inputs are usually
other steps' outputs, so the report runs after them. LABEL=FILE items are accepted too.
--html-out writes one self-contained page (inline SVG and CSS, no script, nothing fetched): top-k and
recall@k curves per run, the metrics table, training loss and dev average rank per --train-log (a
trainer's metrics.jsonl or its run dir), and per --mining summary (<out>.mining.json of mine bm25 or
mine dense) a histogram of the kept negatives' scores against the positives' and the answer-bearing
hits', where false negatives show. --train-label and --mining-label name them, in order (default: the
run dir's name, the mined file's name); LABEL=FILE items are accepted there too.
Example:  dprep eval report --input bm25.metrics.json,s1.metrics.json,s2.metrics.json \\
            --label bm25,stage1,stage2 --out report.md --json-out report.json --html-out report.html \\
            --train-log runs/stage1/metrics.jsonl,runs/stage2/metrics.jsonl --mining train.bm25neg.json.mining.json`,
  options: {
    input: { type: 'list', required: true, role: 'input', help: 'metrics JSON files (or LABEL=FILE), repeatable or comma-separated' },
    label: { type: 'list', help: 'row labels, in the order of --input (default: file names)' },
    out: { type: 'string', required: true, role: 'output', help: 'markdown table file' },
    jsonOut: { type: 'string', role: 'output', help: 'the same as JSON' },
    htmlOut: { type: 'string', role: 'output', help: 'a self-contained HTML page with the table and charts' },
    trainLog: { type: 'list', role: 'input', help: 'training logs for --html-out: metrics.jsonl files or train run dirs (or LABEL=FILE)' },
    trainLabel: { type: 'list', help: 'labels of the training logs, in order (default: the run dir names)' },
    mining: { type: 'list', role: 'input', help: 'mining summaries for --html-out: <out>.mining.json of mine bm25 / mine dense (or LABEL=FILE)' },
    miningLabel: { type: 'list', help: 'labels of the mining summaries, in order (default: the mined file names)' },
  },
  async run(opts) {
    const { UsageError } = await import('../util/errors.ts');
    const { renderReportMarkdown, writeReport } = await import('../eval/report.ts');
    const { metricsLabel, miningLabel, readMetricsRow, readMiningSummary, readTrainingLog, splitLabel, trainingLabel } = await import('../eval/report-inputs.ts');
    const { writeReportHtml } = await import('../eval/report-html.ts');
    if (!opts.htmlOut && (opts.trainLog?.length || opts.mining?.length)) throw new UsageError('--train-log and --mining are drawn in the HTML page: give --html-out too');
    /** Each item's file and label (--label-style list first, then LABEL=FILE, then the default), checked for count. */
    const labelled = (items: string[] | undefined, labels: string[] | undefined, flag: string, what: string, byDefault: (file: string) => string) => {
      if (labels?.length && labels.length !== (items ?? []).length) throw new UsageError(`--${flag}: ${labels.length} labels for ${(items ?? []).length} ${what}; give one per item, in order`);
      return (items ?? []).map((item, i) => {
        const { label, file } = splitLabel(item, byDefault);
        return { file, label: labels?.[i] ?? label };
      });
    };
    const inputs = labelled(opts.input, opts.label, 'label', 'inputs', metricsLabel);
    const logs = labelled(opts.trainLog, opts.trainLabel, 'train-label', 'training logs', trainingLabel);
    const summaries = labelled(opts.mining, opts.miningLabel, 'mining-label', 'mining summaries', miningLabel);
    // Everything is read before anything is written: a bad input leaves no half report.
    const rows = [];
    for (const { file, label } of inputs) rows.push(await readMetricsRow(file, label));
    const training = [];
    for (const { file, label } of logs) training.push(await readTrainingLog(file, label));
    const mining = [];
    for (const { file, label } of summaries) mining.push(await readMiningSummary(file, label));
    await writeReport(rows, opts.out, opts.jsonOut);
    if (opts.htmlOut) await writeReportHtml(opts.htmlOut, { runs: rows, training, mining });
    console.log(renderReportMarkdown(rows));
  },
});
