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

/**
 * Bytes of one inference forward pass (`embed` in one tf.tidy: every layer's intermediates stay
 * alive until the pass ends) of `batch` sequences padded to `len`. Calibrated on the wasm heap
 * (2026-12-02, BERT-base, `bench/encode-mem-probe.ts`): with dprep's native kernels 17.5k floats
 * per token per layer at 128 tokens and 20.6k at 256 (heap 3.50 GB at 12 × 256, the 4 GB heap ran
 * out at 64 × 256), i.e. about 11·H + 2·I + 2 per head per key: 12·H + 2·I + 2·heads·len is used;
 * on tfjs's own kernels 45.4k at 128 (attention through head transposes, softmax as an op chain,
 * XNNPACK's packed weight copies): 32·H + 4·I + 6·heads·len.
 * Other families (DistilBERT, T5) are estimated with the same per-layer terms.
 * @example estimateEncodeMemory(baseConfig, { batch: 12, len: 256, native: true }).tensorBytes / GB // ≈ 3.6
 */
export function estimateEncodeMemory(c: BertConfig, o: { batch: number; len: number; native: boolean }): { tensorBytes: number; weightBytes: number } {
  const params = paramCount(c);
  const embeddings = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * c.hidden_size;
  const weightBytes = 4 * (params + (o.native ? 0 : params - embeddings));
  const perTokenLayer = o.native
    ? 12 * c.hidden_size + 2 * c.intermediate_size + 2 * c.num_attention_heads * o.len
    : 32 * c.hidden_size + 4 * c.intermediate_size + 6 * c.num_attention_heads * o.len;
  // + embeddings (words, types, their sums, the normalized input) and the pooled output.
  const acts = 4 * o.batch * o.len * (c.num_hidden_layers * perTokenLayer + 5 * c.hidden_size);
  return { tensorBytes: weightBytes + acts, weightBytes };
}

/** The tfjs memory an encoder may use: the wasm heap (4 GB, less a margin) or 80% of the free RAM. */
export function encodeBudgetBytes(backend: BackendName, maxMemoryGb?: number): { bytes: number; what: string } {
  if (maxMemoryGb !== undefined) return { bytes: maxMemoryGb * GB, what: 'the given memory budget' };
  return backend === 'wasm' ? { bytes: 3.8 * GB, what: "the wasm backend's heap is 4 GB" } : { bytes: freemem() * 0.8, what: '80% of the free RAM' };
}

/** The batch an encoder runs, the estimate behind it and the budget it was checked against. */
export interface EncodeBatchChoice {
  batch: number;
  /** Estimated bytes of one forward pass at `batch` × the max length (other tensors included). */
  bytes: number;
  budget: number;
  /** The largest batch the estimate lets through at the max length. */
  largest: number;
}

/**
 * Bytes of one pass of the native forward (native-forward.ts) at `batch` × `len`: the weights with
 * their fused Q/K/V copy, and the buffers it keeps, sized by the largest batch (x, the fused Q/K/V
 * output, context, one [tokens, H] scratch, the feed-forward's [tokens, I], the [heads, len] scores
 * of every token) and the pooled output. Plain memory, not a wasm heap.
 * @example estimateNativeForwardMemory(baseConfig, { batch: 64, len: 256 }).tensorBytes / GB // ≈ 1.15
 */
export function estimateNativeForwardMemory(c: BertConfig, o: { batch: number; len: number }): { tensorBytes: number; weightBytes: number } {
  const H = c.hidden_size;
  const weightBytes = 4 * (paramCount(c) + c.num_hidden_layers * 3 * H * (H + 1));
  const buffers = 4 * o.batch * o.len * (6 * H + c.intermediate_size + c.num_attention_heads * o.len) + 4 * o.batch * (H + (c.projection_dim || 0));
  return { tensorBytes: weightBytes + buffers, weightBytes };
}

/**
 * Inputs per forward pass of an encoder: `requested` when it fits the budget (else a UsageError
 * with the numbers and the largest batch that fits, before any work), otherwise the largest that
 * fits, at most `cap`. The estimate takes every sequence at `maxLength` (the worst case of padding).
 * @example chooseEncodeBatch(cfg, { maxLength: 256, native: true, backend: 'wasm' }).batch // 12 for BERT-base
 */
export function chooseEncodeBatch(
  c: BertConfig,
  o: { maxLength: number; native: boolean; backend: BackendName; requested?: number; flag?: string; cap?: number; maxMemoryGb?: number; residentBytes?: number; nativeForward?: boolean },
): EncodeBatchChoice {
  // The native forward's buffers are plain memory: the RAM bounds them, not the wasm heap.
  const budget = encodeBudgetBytes(o.nativeForward ? 'cpu' : o.backend, o.maxMemoryGb);
  // Other tensors in the same heap (another encoder's weights) count against this one's budget.
  const resident = o.residentBytes ?? 0;
  const at = (batch: number) =>
    resident + (o.nativeForward ? estimateNativeForwardMemory(c, { batch, len: o.maxLength }) : estimateEncodeMemory(c, { batch, len: o.maxLength, native: o.native })).tensorBytes;
  // Bytes grow linearly with the batch: the largest fitting one in closed form, then checked.
  const one = at(1);
  const perSequence = at(2) - one;
  let largest = Math.max(0, Math.floor((budget.bytes - (one - perSequence)) / perSequence));
  while (largest > 0 && at(largest) > budget.bytes) largest--;
  const shape = `${c.model_type}, ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${o.maxLength} tokens${resident > 0 ? `, ${(resident / GB).toFixed(2)} GB of other tensors` : ''}`;
  if (largest === 0) {
    throw new UsageError(
      `one sequence of ${o.maxLength} tokens needs an estimated ${(one / GB).toFixed(2)} GB of tensors (${shape}), over the budget of ${(budget.bytes / GB).toFixed(1)} GB (${budget.what}): lower --max-length`,
    );
  }
  if (o.requested !== undefined) {
    const bytes = at(o.requested);
    if (bytes > budget.bytes) {
      throw new UsageError(
        `${o.flag ?? '--batch'} ${o.requested} needs an estimated ${(bytes / GB).toFixed(2)} GB of tensors per forward pass (${shape}), over the budget of ${(budget.bytes / GB).toFixed(1)} GB` +
          ` (${budget.what}); the largest batch that fits is ${largest} (or lower --max-length)`,
      );
    }
    return { batch: o.requested, bytes, budget: budget.bytes, largest };
  }
  const batch = Math.min(largest, o.cap ?? 64);
  return { batch, bytes: at(batch), budget: budget.bytes, largest };
}
