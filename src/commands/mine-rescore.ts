/** `dprep mine rescore`: cross-encoder denoising of mined hard negatives (see src/miners/rescore.ts). */
import { defineCommand } from '../options.ts';
import { SKIP_BAD_OPTION } from '../util/bad-records.ts';

export const mineRescoreCommand = defineCommand({
  id: 'mine.rescore',
  summary: 'Drop mined hard negatives a cross-encoder judges relevant (RocketQA denoising)',
  description: `
Scores every (question, hard negative) pair of the records with a cross-encoder: a Hugging Face
*ForSequenceClassification dir (config.json, model.safetensors or pytorch_model.bin, tokenizer.json or
vocab.txt) of model_type bert, roberta, camembert, xlm-roberta or distilbert. A pair is
[CLS] question [SEP] title text [SEP] (token type ids where the family has them). The score is the
logit (1 label) or logit[1] − logit[0] (2 labels: label 1 = relevant); its sigmoid is the
probability of relevance (softmax's label-1 probability with 2 labels).
Drops negatives with that probability above --threshold P, and/or the top --drop-top F fraction
of each record's negatives by score (floor(F × n)); the rest keep their order and fields.
Counts (scored, kept, dropped per reason) go to the log and <out>.summary.json. Records with an
empty question are skipped and counted; records without hard negatives are written unchanged.
Example:  dprep mine rescore --cross-encoder models/ce --examples squad.densehn.json \\
            --out squad.denoised.json --threshold 0.9`,
  options: {
    crossEncoder: { type: 'string', required: true, role: 'input', help: 'cross-encoder dir in the HF *ForSequenceClassification layout' },
    examples: { type: 'string', required: true, role: 'input', help: 'mined DPR records (.json array, .jsonl, .parquet)' },
    out: { type: 'string', required: true, role: 'output', sideFiles: ['.summary.json'], help: 'output DPR records (.json, .jsonl, .parquet)' },
    threshold: { type: 'number', min: 0, max: 1, help: 'drop negatives whose probability of relevance (sigmoid of the score) is above P' },
    dropTop: { type: 'number', min: 0, max: 1, help: "drop the top fraction F of each record's negatives by score (floor(F × n))" },
    maxLength: { type: 'integer', default: 256, min: 4, help: 'tokens per pair, specials included (capped by the model)' },
    batch: { type: 'integer', default: 32, min: 1, help: 'pairs per forward pass' },
    ...SKIP_BAD_OPTION,
  },
  async run(opts, ctx) {
    const { rescoreNegatives } = await import('../miners/rescore.ts');
    const { loadCrossEncoder } = await import('../trainer/cross-encoder.ts');
    const { UsageError } = await import('../util/errors.ts');
    if (opts.threshold === undefined && opts.dropTop === undefined) throw new UsageError('mine rescore: give --threshold P, --drop-top F or both (nothing would be dropped)');
    const scorer = await loadCrossEncoder(opts.crossEncoder, { maxLength: opts.maxLength, batchSize: opts.batch, log: ctx.log });
    ctx.log(`mine rescore: ${scorer.modelType} cross-encoder, ${scorer.numLabels} label(s), max length ${scorer.maxLength}`);
    try {
      const { summary, counts } = await rescoreNegatives({ examples: opts.examples, out: opts.out, scorer, threshold: opts.threshold, dropTop: opts.dropTop, skipBad: opts.skipBad, log: ctx.log });
      await summary.write(opts.out);
      ctx.log(summary.render());
      return { metrics: { records: counts.records, skipped: summary.skippedTotal, scored: counts.scored, kept: counts.kept, dropped: counts.dropped, droppedThreshold: counts.droppedThreshold, droppedTopFraction: counts.droppedTopFraction } };
    } finally {
      scorer.dispose();
    }
  },
});
