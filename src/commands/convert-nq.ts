/**
 * `dprep convert nq`: any of NQ's four forms (DPR biencoder JSON, DPR qa csv, NQ-open jsonl,
 * NQ simplified jsonl.gz) → DPR records (+ a corpus of the passages seen).
 */
import { stat } from 'node:fs/promises';
import { defineCommand } from '../options.ts';
import { convertOptions, openConvertOutputs } from '../converters/common.ts';
import { nqOptions } from '../converters/nq-options.ts';

/**
 * The passage ids already written to --corpus. V8 caps one Set at 2^24 (16.8M) entries, fewer than
 * DPR's 21M Wikipedia passages, so ids are spread over 64 Sets by a cheap hash. ~45 bytes per id.
 */
class IdSet {
  private readonly sets = Array.from({ length: 64 }, () => new Set<string>());

  private bucket(id: string): Set<string> {
    let h = 0x811c9dc5; // FNV-1a
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    return this.sets[(h >>> 26) & 63];
  }

  /** Adds the id; false when it was already there. */
  add(id: string): boolean {
    const set = this.bucket(id);
    if (set.has(id)) return false;
    // A copy: an id cut from an input line (a V8 sliced string) would keep the whole line alive.
    set.add(Buffer.from(id, 'utf8').toString('utf8'));
    return true;
  }
}

export const convertNqCommand = defineCommand({
  id: 'convert.nq',
  summary: 'Natural Questions (DPR biencoder JSON, DPR qa csv, NQ-open, NQ simplified) → DPR records',
  description: `
Input, detected from the content (not the name) unless --input-format is given:
  dpr            DPR's biencoder JSON array (biencoder-nq-train.json, 7.4 GB: streamed), or DPR records
                 as JSON lines. Validated; duplicate positives (same passage_id) removed keeping the
                 first (the gold one); empty answers dropped; records without positives skipped.
  dpr-qa         DPR's qa files (nq-test.qa.csv): question TAB ['answer', ...] with CSV quoting.
  nq-open        NQ-open jsonl {"question", "answer": [...]}; lines without answers (.no-annotations)
                 are skipped unless --allow-no-answers.
  nq-simplified  v1.0-simplified-nq-*.jsonl(.gz): the long answer (HTML tokens removed, cut into
                 --passage-words passages) gives the positives, short answers the answers; examples
                 without a long or short answer (yes/no included) are counted skips.
Output: DPR records (format from the --out extension or --format); qa and NQ-open records have no
passages. --corpus collects each passage once by passage_id (the ids seen stay in memory: about
45 bytes per passage, ~1 GB for DPR's 21M Wikipedia passages).
A summary (<out>.summary.json) counts every input record as converted or skipped, per reason.
Example:  dprep convert nq --input biencoder-nq-dev.json --out nq.dpr.jsonl --corpus nq.corpus.jsonl`,
  options: {
    ...nqOptions,
    ...convertOptions,
  },
  async run(opts, context) {
    const { convertNq } = await import('../converters/nq.ts');
    const { Summary } = await import('../util/summary.ts');
    const { Progress } = await import('../util/progress.ts');
    const { size } = await stat(opts.input).catch(() => ({ size: 0 }));
    const outputs = await openConvertOutputs(opts);
    const summary = new Summary('convert nq', [opts.input]);
    const progress = new Progress('convert nq', { total: size || undefined, unit: 'B' });
    const seen = new IdSet();
    const corpus = outputs.corpus;
    let format: string;
    try {
      format = await convertNq(
        opts.input,
        {
          summary,
          write: (r) => outputs.records.write(r),
          passage: corpus
            ? async (p) => {
                if (seen.add(p.passage_id)) await corpus.write(p);
              }
            : undefined,
        },
        { format: opts.inputFormat, dataset: opts.dataset, allowNoAnswers: opts.allowNoAnswers, passageWords: opts.passageWords, onRawBytes: (n) => progress.tick(n) },
      );
      await outputs.commit();
    } catch (err) {
      await outputs.abort();
      throw err;
    }
    progress.finish();
    if (corpus) summary.count('corpus passages written', corpus.count);
    context.log(`${summary.render()}\n  input format: ${format}`);
    if (corpus && (format === 'dpr-qa' || format === 'nq-open')) context.log(`  note: ${format} input has no passages; ${opts.corpus} is empty`);
    await summary.write(opts.out);
    return { metrics: { read: summary.read, converted: summary.converted, skipped: summary.skippedTotal, inputFormat: format } };
  },
});
