/**
 * Memory estimate of a training step, checked before anything is allocated. Counts the tensors
 * the tape keeps per token per layer (projections, head splits, LayerNorm intermediates, GELU,
 * dropout masks: about 22·H + 4·I floats) plus attention maps (about 5 per head per key), the
 * weights and gradients in the tfjs heap, and the JS-side master weights and AdamW moments.
 */
import type { BertConfig } from './config.ts';
import { bertTensorShapes } from './bert.ts';

export interface MemoryEstimate {
  /** Bytes in the tfjs heap (the 4 GB wasm heap on the wasm backend). */
  tensorBytes: number;
  /** Bytes in JS (master weights, gradients, AdamW moments). */
  jsBytes: number;
}

export const paramCount = (c: BertConfig) => [...bertTensorShapes(c).values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

function activationBytes(c: BertConfig, sequences: number, len: number): number {
  const perTokenLayer = 22 * c.hidden_size + 4 * c.intermediate_size + 5 * c.num_attention_heads * len;
  return 4 * sequences * len * (c.num_hidden_layers * perTokenLayer + 4 * c.hidden_size);
}

/**
 * Estimates one step with micro-batches of `microQuestions` questions, each with `passagesPerQuestion` passages.
 * @example estimateTrainingMemory(cfg, cfg, { microQuestions: 16, passagesPerQuestion: 2, queryLen: 32, passageLen: 128, shared: false })
 */
export function estimateTrainingMemory(
  query: BertConfig,
  passage: BertConfig,
  o: { microQuestions: number; passagesPerQuestion: number; queryLen: number; passageLen: number; shared: boolean },
): MemoryEstimate {
  const params = paramCount(query) + (o.shared ? 0 : paramCount(passage));
  const acts = activationBytes(query, o.microQuestions, o.queryLen) + activationBytes(passage, o.microQuestions * o.passagesPerQuestion, o.passageLen);
  // weights + one micro-batch's grads in the heap; master weights, accumulated grads, m, v in JS.
  return { tensorBytes: 4 * params * 2 + acts, jsBytes: 4 * params * 4 };
}

export const GB = 1024 ** 3;
