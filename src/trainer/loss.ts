/**
 * DPR's loss and validation metric.
 * - loss: softmax NLL of each question over every passage in the batch (its positive, the other
 *   questions' positives and all hard negatives), scored by dot product. Masked pairs (a passage
 *   that is one of question i's positives, in another column: a false negative) leave row i's
 *   softmax: their score is set to MASKED_SCORE, so exp() is exactly 0 there, as is the gradient.
 * - average rank: 0-based rank of each question's positive among all passages scored with it.
 */
import type { Scalar, Tensor2D } from '@tensorflow/tfjs-core';
import type { TF } from './backend.ts';

/**
 * A masked pair's score: finite (times the one-hot target's 0 it gives 0, where -Infinity gives
 * NaN), and far enough below any dot product that exp(MASKED_SCORE - max) is exactly 0 in float32.
 */
export const MASKED_SCORE = -1e30;

/**
 * Mean NLL of the positives. `q` [B, H], `p` [P, H], `positiveIndex[i]` = row of p that is q_i's positive;
 * `masked`: flat indices `i * P + j` of pairs left out of question i's softmax (see data.ts's falseNegativePairs).
 * @example dprLoss(tf, q, p, [0, 2]) // B = 2 questions, each with 1 hard negative after its positive
 */
export function dprLoss(tf: TF, q: Tensor2D, p: Tensor2D, positiveIndex: readonly number[], masked: readonly number[] = []): Scalar {
  let scores = tf.matMul(q, p, false, true); // [B, P]
  if (masked.length > 0) scores = tf.add(scores, maskOffsets(tf, q.shape[0], p.shape[0], masked)); // [B, P]
  const logProbs = tf.logSoftmax(scores, -1); // [B, P]
  // The one-hot targets built here, not by tf.oneHot: that refuses depth 1, which a replica holding one
  // question without hard negatives has (its loss is then 0: one passage takes all the probability).
  const cols = p.shape[0];
  const onehot = new Float32Array(positiveIndex.length * cols);
  positiveIndex.forEach((j, i) => (onehot[i * cols + j] = 1));
  const target = tf.tensor2d(onehot, [positiveIndex.length, cols]); // [B, P]
  return tf.neg(tf.div(tf.sum(tf.mul(logProbs, target)), positiveIndex.length)) as Scalar;
}

/** 0 everywhere but MASKED_SCORE at the masked pairs: added to the scores (x + 0 is x, bit for bit). */
function maskOffsets(tf: TF, rows: number, cols: number, masked: readonly number[]): Tensor2D {
  const offsets = new Float32Array(rows * cols);
  for (const at of masked) {
    if (!Number.isInteger(at) || at < 0 || at >= offsets.length) throw new Error(`masked pair ${at} is outside the ${rows} × ${cols} score matrix`);
    offsets[at] = MASKED_SCORE;
  }
  return tf.tensor2d(offsets, [rows, cols]); // [B, P]
}

/**
 * GradCache's middle step: the loss over all embeddings of a batch (rows of `q` [B, H] and `p` [P, H],
 * flat) and its gradient w.r.t. every row, as flat arrays laid out like the inputs.
 * @example const { loss, dq, dp } = await dprLossAndEmbeddingGrads(tf, q, p, 128, [0, 2]);
 */
export async function dprLossAndEmbeddingGrads(
  tf: TF,
  q: Float32Array,
  p: Float32Array,
  dim: number,
  positiveIndex: readonly number[],
  masked: readonly number[] = [],
): Promise<{ loss: number; dq: Float32Array; dp: Float32Array }> {
  const qT = tf.tensor2d(q, [q.length / dim, dim]); // [B, H]
  const pT = tf.tensor2d(p, [p.length / dim, dim]); // [P, H]
  const { value, grads } = tf.valueAndGrads((a, b) => dprLoss(tf, a as Tensor2D, b as Tensor2D, positiveIndex, masked))([qT, pT]);
  const out = { loss: (await value.data())[0], dq: (await grads[0].data()) as Float32Array, dp: (await grads[1].data()) as Float32Array };
  tf.dispose([qT, pT, value, ...grads]);
  return out;
}

/**
 * 0-based rank of each positive among its row's scores (ties count against the positive).
 * `masked`: flat indices `i * cols + j` left out of row i, as in dprLoss: a passage that is one of
 * question i's positives (another question's identical positive) does not outrank it.
 * @example positiveRanks(Float32Array.from([1, 3, 2]), 1, 3, [0], [1]) // [1]: column 1 is masked
 */
export function positiveRanks(scores: Float32Array, rows: number, cols: number, positiveIndex: readonly number[], masked: readonly number[] = []): number[] {
  const left = new Set(masked);
  const ranks: number[] = [];
  for (let i = 0; i < rows; i++) {
    const gold = scores[i * cols + positiveIndex[i]];
    let rank = 0;
    for (let j = 0; j < cols; j++) if (j !== positiveIndex[i] && !left.has(i * cols + j) && scores[i * cols + j] >= gold) rank++;
    ranks.push(rank);
  }
  return ranks;
}
