/**
 * DPR's loss and validation metric.
 * - loss: softmax NLL of each question over every passage in the batch (its positive, the other
 *   questions' positives and all hard negatives), scored by dot product.
 * - average rank: 0-based rank of each question's positive among all passages scored with it.
 */
import type { Scalar, Tensor2D } from '@tensorflow/tfjs-core';
import type { TF } from './backend.ts';

/**
 * Mean NLL of the positives. `q` [B, H], `p` [P, H], `positiveIndex[i]` = row of p that is q_i's positive.
 * @example dprLoss(tf, q, p, [0, 2]) // B = 2 questions, each with 1 hard negative after its positive
 */
export function dprLoss(tf: TF, q: Tensor2D, p: Tensor2D, positiveIndex: readonly number[]): Scalar {
  const scores = tf.matMul(q, p, false, true); // [B, P]
  const logProbs = tf.logSoftmax(scores, -1); // [B, P]
  const target = tf.oneHot(tf.tensor1d(positiveIndex as number[], 'int32'), p.shape[0]); // [B, P]
  return tf.neg(tf.div(tf.sum(tf.mul(logProbs, target)), positiveIndex.length)) as Scalar;
}

/** 0-based rank of each positive among its row's scores (ties count against the positive). */
export function positiveRanks(scores: Float32Array, rows: number, cols: number, positiveIndex: readonly number[]): number[] {
  const ranks: number[] = [];
  for (let i = 0; i < rows; i++) {
    const gold = scores[i * cols + positiveIndex[i]];
    let rank = 0;
    for (let j = 0; j < cols; j++) if (j !== positiveIndex[i] && scores[i * cols + j] >= gold) rank++;
    ranks.push(rank);
  }
  return ranks;
}
