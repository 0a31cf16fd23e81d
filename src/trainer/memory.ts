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
import type { BertConfig } from './config.ts';
import { bertTensorShapes } from './bert.ts';

export const GB = 1024 ** 3;

export interface MemoryEstimate {
  /** Bytes in the tfjs heap (the 4 GB wasm heap on the wasm backend). */
  tensorBytes: number;
  /** Bytes in JS (master weights, gradients, AdamW moments). */
  jsBytes: number;
  /** Bytes of the weights alone (what a copy of the model kept for validation needs). */
  weightBytes: number;
}

export const paramCount = (c: BertConfig) => [...bertTensorShapes(c).values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

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


