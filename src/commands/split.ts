/** `dprep split`: a seeded split of DPR records by question into a kept part and a held-out part. */
import { defineCommand, seedOption } from '../options.ts';
import { RECORD_FORMATS } from '../io/records.ts';

export const splitCommand = defineCommand({
  id: 'split',
  summary: 'Split DPR records by question into a kept part and a held-out part (seeded)',
  description: `
Holds out exactly round(n · --heldout) of the n records of --examples, a seeded uniform choice, and
writes them to --heldout-out; the others go to --out. Both keep the input order, and every record
lands in exactly one of them (the counts are printed). The split is by record, i.e. by question:
questions of one paragraph can fall on both sides, and they share the corpus, as in a benchmark
that holds out questions over a fixed corpus. Same input and --seed give the same split.
Example:  dprep split --examples squad-dev.dpr.jsonl --out train.jsonl --heldout-out test.jsonl --heldout 0.2 --seed 1`,
  options: {
    examples: { type: 'string', required: true, role: 'input', help: 'DPR records (.json array, .jsonl, .parquet)' },
    out: { type: 'string', required: true, role: 'output', help: 'the kept records (.json DPR array, .jsonl, .parquet)' },
    heldoutOut: { type: 'string', required: true, role: 'output', help: 'the held-out records' },
    heldout: { type: 'number', min: 0, max: 1, default: 0.2, help: 'fraction of the records held out' },
    format: { type: 'string', choices: RECORD_FORMATS, help: 'record format of both outputs, instead of guessing from the extensions' },
    seed: seedOption(1, 'the split'),
  },
  async run(opts, ctx) {
    const { UsageError } = await import('../util/errors.ts');
    const { resolve } = await import('node:path');
    const { splitRecords } = await import('../io/split.ts');
    const { Progress } = await import('../util/progress.ts');
    if (resolve(opts.out) === resolve(opts.heldoutOut)) throw new UsageError('--out and --heldout-out name the same file');
    let progress: InstanceType<typeof Progress> | undefined;
    const res = await splitRecords({
      examples: opts.examples,
      out: opts.out,
      heldoutOut: opts.heldoutOut,
      fraction: opts.heldout,
      seed: opts.seed,
      format: opts.format,
      onProgress: (done, total) => (progress ??= new Progress('split', { total, unit: 'records' })).update(done),
    });
    progress?.finish();
    ctx.log(`split: ${res.records} records: ${res.kept} kept (${opts.out}), ${res.heldOut} held out (${opts.heldoutOut}), seed ${opts.seed}`);
    return { metrics: { records: res.records, kept: res.kept, heldout: res.heldOut } };
  },
});
