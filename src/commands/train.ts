/**
 * `dprep train`: train DPR query and passage encoders on DPR records (in-batch + hard negatives).
 */
import { defineCommand } from '../options.ts';

export const trainCommand = defineCommand({
  id: 'train',
  summary: 'train a DPR bi-encoder (tfjs) on DPR records; HF checkpoints, resumable',
  description: `
Input: DPR records (.json array or .jsonl) with positive_ctxs and hard_negative_ctxs; records without
positives are skipped and counted. Loss: softmax NLL of each question over every passage in the batch.
Output (--out): query_encoder/ and passage_encoder/ (HF layout: best on dev, else last), best/, last/
(+ optimizer state for --resume), metrics.jsonl. --grad-accum K makes one optimizer step over
batch-size·K questions with all of them as in-batch negatives (exactly the larger batch).
Example:  dprep train --train squad.bm25neg.json --dev squad-dev.bm25neg.json --query-model tiny-bert \\
            --out runs/stage1 --batch-size 16 --hard-negatives 1 --epochs 10 --lr 2e-5 --warmup 100`,
  options: {
    train: { type: 'string', required: true, role: 'input', help: 'training DPR records (.json or .jsonl)' },
    dev: { type: 'string', role: 'input', help: 'dev DPR records for NLL / average rank and best-checkpoint choice' },
    queryModel: { type: 'string', required: true, role: 'input', help: 'HF model dir to start the query encoder from' },
    passageModel: { type: 'string', role: 'input', help: 'HF model dir for the passage encoder (default: --query-model)' },
    out: { type: 'string', required: true, role: 'output', help: 'run directory' },
    batchSize: { type: 'integer', default: 16, help: 'questions per forward pass (micro-batch)' },
    gradAccum: { type: 'integer', default: 1, help: 'micro-batches per optimizer step (equals one larger batch)' },
    hardNegatives: { type: 'integer', default: 1, help: 'hard negatives per question (the first N of hard_negative_ctxs)' },
    positives: { type: 'string', choices: ['first', 'sampled'] as const, default: 'first', help: 'which positive per question: the first, or one sampled per epoch (seeded)' },
    epochs: { type: 'integer', default: 40, help: 'passes over the training records' },
    maxSteps: { type: 'integer', default: 0, help: 'stop after N optimizer steps (0: no cap; the schedule still spans --epochs)' },
    lr: { type: 'number', default: 2e-5, help: 'peak learning rate (AdamW)' },
    warmup: { type: 'integer', default: 0, help: 'linear warmup steps, then linear decay to 0' },
    weightDecay: { type: 'number', default: 0, help: 'AdamW weight decay (not on biases and LayerNorm)' },
    maxGradNorm: { type: 'number', default: 2, help: 'clip gradients to this global L2 norm (0: off)' },
    maxQueryLen: { type: 'integer', default: 64, help: 'query tokens, specials included' },
    maxPassageLen: { type: 'integer', default: 256, help: 'passage tokens, specials included' },
    embedTitle: { type: 'boolean', help: 'encode passages as [CLS] title [SEP] text [SEP]' },
    sharedEncoder: { type: 'boolean', help: 'one encoder for questions and passages' },
    pooling: { type: 'string', choices: ['cls', 'mean'] as const, default: 'cls', help: 'CLS vector (DPR) or mean of tokens' },
    normalize: { type: 'boolean', help: 'L2-normalize vectors before the dot product' },
    backend: { type: 'string', choices: ['auto', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto', help: 'tfjs backend (auto: tfjs-node if installed, else wasm, else cpu)' },
    workers: { type: 'integer', default: 0, help: 'data-parallel replicas, one worker thread each (0: 2 on wasm/cpu, 1 on tfjs-node); part of the result: resume with the same count' },
    seed: { type: 'integer', help: 'seed of shuffling, positive sampling and dropout (default: pipeline seed, else 12345)' },
    resume: { type: 'string', help: 'run directory to continue from (its last/ checkpoint)' },
    evalEvery: { type: 'integer', default: 0, help: 'validate and save every N steps (0: at each epoch end)' },
    devMaxQuestions: { type: 'integer', default: 1000, help: 'dev questions used for validation' },
    maxMemoryGb: { type: 'number', help: 'memory budget for the pre-flight estimate (default: 3.8 on wasm, else 80% of RAM)' },
  },
  async run(opts, ctx) {
    const { trainBiEncoder } = await import('../trainer/train.ts');
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    // Under the pipeline runner a killed step continues from its own last checkpoint.
    const resume = opts.resume ?? (ctx.stateDir && existsSync(join(opts.out, 'last', 'trainer_state.json')) ? opts.out : undefined);
    const { metrics } = await trainBiEncoder({ ...opts, resume, seed: opts.seed ?? ctx.seed ?? 12345, log: ctx.log });
    ctx.log(`train: ${Object.entries(metrics).map(([k, v]) => `${k} ${Number(v).toFixed(4)}`).join(', ')}`);
    return { metrics };
  },
});
