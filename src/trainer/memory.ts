/**
 * Memory estimate of a training step, checked before anything is allocated.
 * Activation bytes are calibrated on the wasm backend's peak heap (forward + backward of BERT-base):
 * - with dprep's native kernels (2026-12-01: 2.51 GB for one question + 2 passages of 256 tokens
 *   with GradCache, 2.96 GB for 2 questions + 4 passages of 128 without; 2 questions + 4 passages
 *   of 256 with GradCache ran out of the 4 GB heap): 40·H + 6·I floats per token per layer plus 10
 *   per head per key, which puts those at 3.3, 3.7 and 5.2 GB (wasm's heap grows in steps and
 *   fragments, so the margin is kept);
 * - on tfjs's own kernels (2026-11-23, 512 tokens): about 140·H + 25·I plus 5 per head per key, ~6×
 *   the tensors the tape keeps: wasm's Identity copied every saved tensor and XNNPACK keeps packed
 *   operand copies, and the heap never shrinks.
 * Weights, gradients, XNNPACK's packed weight copies, and the JS-side master weights and AdamW moments
 * are added.
 */
import { freemem, totalmem } from 'node:os';
import type { BertConfig } from './config.ts';
import { tensorShapes } from './families.ts';
import type { TrainOptions } from './options.ts';
import type { BackendName } from './tf-types.ts';
import { UsageError } from '../util/errors.ts';

export const GB = 1024 ** 3;

export interface MemoryEstimate {
  /** Bytes in the tfjs heap (the 4 GB wasm heap on the wasm backend). */
  tensorBytes: number;
  /** Bytes in JS (master weights, gradients, AdamW moments). */
  jsBytes: number;
  /** Bytes of the weights alone (what a copy of the model kept for validation needs). */
  weightBytes: number;
}

export const paramCount = (c: BertConfig) => [...tensorShapes(c).values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

function activationBytes(c: BertConfig, sequences: number, len: number, native: boolean): number {
  const perTokenLayer = native
    ? 40 * c.hidden_size + 6 * c.intermediate_size + 10 * c.num_attention_heads * len
    : 140 * c.hidden_size + 25 * c.intermediate_size + 5 * c.num_attention_heads * len;
  return 4 * sequences * len * (c.num_hidden_layers * perTokenLayer + 4 * c.hidden_size);
}

/**
 * Estimates one step with micro-batches of `microQuestions` questions, each with `passagesPerQuestion` passages.
 * With accumulation (GradCache) only one side's activations and gradients are alive at a time.
 * With data-parallel `replicas`, `tensorBytes` is per replica (each has its own heap) and
 * `microQuestions` is what one replica runs at a time.
 * @example estimateTrainingMemory(cfg, cfg, { microQuestions: 16, passagesPerQuestion: 2, queryLen: 32, passageLen: 128, shared: false, accumulate: false })
 */
export function estimateTrainingMemory(
  query: BertConfig,
  passage: BertConfig,
  o: { microQuestions: number; passagesPerQuestion: number; queryLen: number; passageLen: number; shared: boolean; accumulate: boolean; replicas?: number; native?: boolean },
): MemoryEstimate {
  const native = o.native ?? false;
  const qParams = paramCount(query);
  const pParams = o.shared ? 0 : paramCount(passage);
  const qActs = activationBytes(query, o.microQuestions, o.queryLen, native);
  const pActs = activationBytes(passage, o.microQuestions * o.passagesPerQuestion, o.passageLen, native);
  const embeddings = (c: BertConfig) => (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * c.hidden_size;
  // XNNPACK keeps a packed copy of every dense weight it has multiplied with (not OpenBLAS).
  const packed = native ? 0 : qParams - embeddings(query) + (o.shared ? 0 : pParams - embeddings(passage));
  const weights = 4 * (qParams + pParams + packed);
  // GradCache's loop over micro-batches fragments the heap: 16 BERT-base micro-batches peaked at
  // 3.32 GB where 2 peaked at 2.51 GB (native kernels, 2026-12-01).
  const fragmentation = o.accumulate && native ? 0.35 * GB : 0;
  const live = o.accumulate ? Math.max(4 * qParams + qActs, 4 * Math.max(qParams, pParams) + pActs) + fragmentation : 4 * (qParams + pParams) + qActs + pActs;
  // weights + grads + activations in the heap (each replica's own); master weights, accumulated
  // grads, m, v in JS, plus one shared gradient buffer per replica.
  return { tensorBytes: weights + live, jsBytes: 4 * (qParams + pParams) * (4 + (o.replicas ?? 0)), weightBytes: weights };
}

/** Where a training run is about to start: the backend, its threads and kernels, and the replica count. */
export interface TrainingSetup {
  backend: BackendName;
  threads: number;
  /** dprep's native kernels are loaded (wasm only). */
  native: boolean;
  /** Why they are not, when they were wanted. */
  nativeError?: string;
  workers: number;
}

/**
 * The pre-flight check of `trainBiEncoder`: logs the estimate and refuses (UsageError, with what
 * to change) a step that would not fit the tfjs heap, the JS heap or, with replicas, the free RAM.
 * @example checkTrainingMemory(q.config, p.config, o, { backend: 'wasm', threads: 1, native: true, workers: 2 }, console.error);
 */
export function checkTrainingMemory(
  query: BertConfig,
  passage: BertConfig,
  o: Pick<TrainOptions, 'batchSize' | 'gradAccum' | 'hardNegatives' | 'maxQueryLen' | 'maxPassageLen' | 'sharedEncoder' | 'maxMemoryGb'>,
  setup: TrainingSetup,
  log: (message: string) => void,
): void {
  const { backend, threads, native, workers } = setup;
  // Each replica holds a shard of the batch: ceil(batch / workers) questions, in micro-batches of --batch-size.
  const shardQuestions = Math.ceil((o.batchSize * o.gradAccum) / workers);
  const microQuestions = Math.min(o.batchSize, shardQuestions);
  const est = estimateTrainingMemory(query, passage, {
    microQuestions, passagesPerQuestion: 1 + o.hardNegatives, queryLen: o.maxQueryLen, passageLen: o.maxPassageLen, shared: o.sharedEncoder,
    accumulate: shardQuestions > microQuestions, replicas: workers > 1 ? workers : 0, native,
  });
  const heapLimit = (o.maxMemoryGb ?? (backend === 'wasm' ? 3.8 : (totalmem() * 0.8) / GB)) * GB;
  log(
    `trainer: backend ${backend}${backend === 'wasm' ? ` (${threads} thread${threads > 1 ? 's' : ''}${native ? ', native OpenBLAS matmul' : ''})` : ''}` +
      `${workers > 1 ? `, ${workers} data-parallel replicas` : ''}; estimated memory ${(est.tensorBytes / GB).toFixed(2)} GB tensors` +
      `${workers > 1 ? ' per replica' : ''} + ${(est.jsBytes / GB).toFixed(2)} GB JS (budget ${(heapLimit / GB).toFixed(1)} GB)`,
  );
  if (backend === 'wasm' && !native && setup.nativeError) log(`trainer: native kernels not used (${setup.nativeError})`);
  // Each replica has its own heap; this thread's copy of the model (validation, checkpoints) needs about its weights.
  const ramBytes = est.jsBytes + (workers > 1 ? workers * est.tensorBytes + est.weightBytes : 0);
  if (workers > 1 && est.tensorBytes <= heapLimit && ramBytes > freemem() * 0.9 && o.maxMemoryGb === undefined) {
    throw new UsageError(
      `estimated memory of ${workers} data-parallel replicas ${(ramBytes / GB).toFixed(1)} GB exceeds the free RAM ${(freemem() / GB).toFixed(1)} GB;` +
        ` use fewer --workers (1 runs in this process), or lower --batch-size and raise --grad-accum; --max-memory-gb overrides.`,
    );
  }
  if (est.tensorBytes > heapLimit || est.jsBytes > freemem() * 0.9) {
    throw new UsageError(
      `estimated memory ${(est.tensorBytes / GB).toFixed(1)} GB of tensors (+${(est.jsBytes / GB).toFixed(1)} GB JS) exceeds the budget ${(heapLimit / GB).toFixed(1)} GB` +
        ` (${backend === 'wasm' ? "the wasm backend's heap is 4 GB" : 'from RAM'}). Lower --batch-size and raise --grad-accum by the same factor` +
        ` (the optimizer step is unchanged: accumulation here equals the larger batch), or shorten --max-passage-len; --max-memory-gb overrides.`,
    );
  }
}
