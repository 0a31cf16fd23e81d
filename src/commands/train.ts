/**
 * `dprep train`: train DPR query and passage encoders on DPR records (in-batch + hard negatives).
 */
import { defineCommand } from '../options.ts';
import { TRAIN_OPTIONS } from '../trainer/options.ts';

export const trainCommand = defineCommand({
  id: 'train',
  summary: 'train a DPR bi-encoder (tfjs) on DPR records; HF checkpoints, resumable',
  description: `
Input: DPR records (.json array or .jsonl) with positive_ctxs and hard_negative_ctxs; records without
positives are skipped and counted. Loss: softmax NLL of each question over every passage in the batch.
Output (--out): query_encoder/ and passage_encoder/ (HF layout: best on dev, else last), best/, last/
(+ optimizer state for --resume, with the sha256 of every checkpoint file: --resume refuses a
damaged one, naming the file), metrics.jsonl. A NaN/Inf loss or gradient stops training at its step
before the update (exit 2), last/ left as it was. --grad-accum K makes one optimizer step over
batch-size·K questions with all of them as in-batch negatives (exactly the larger batch).
Start models: any supported family (config.json "model_type"): bert (incl. E5/BGE/GTE-style), dpr
with or without a projection, roberta, camembert, xlm-roberta, distilbert, t5 (encoder only; its
RMSNorm and relative position bias run on tfjs ops, not dprep's native kernels). Their tokenizer
(tokenizer.json or vocab.txt) is checked against config.json before any work. Weights:
model.safetensors, pytorch_model.bin or sharded. --query-template / --passage-template (E5:
"query: {text}" / "passage: {title} {text}") are stored with the encoders in dprep_encoder.json,
with pooling and normalization, so encode / eval / mine dense / embed embed the same way.
Example:  dprep train --train squad.bm25neg.json --dev squad-dev.bm25neg.json --query-model tiny-bert \\
            --out runs/stage1 --batch-size 16 --hard-negatives 1 --epochs 10 --lr 2e-5 --warmup 100`,
  options: TRAIN_OPTIONS,
  async run(opts, ctx) {
    const { trainBiEncoder } = await import('../trainer/train.ts');
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    // Under the pipeline runner a killed step continues from its own last checkpoint.
    const resume = opts.resume ?? (ctx.stateDir && existsSync(join(opts.out, 'last', 'trainer_state.json')) ? opts.out : undefined);
    const { metrics } = await trainBiEncoder({ ...opts, resume, log: ctx.log });
    ctx.log(`train: ${Object.entries(metrics).map(([k, v]) => `${k} ${Number(v).toFixed(4)}`).join(', ')}`);
    return { metrics };
  },
});
