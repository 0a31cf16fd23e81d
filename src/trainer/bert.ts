/**
 * A BERT encoder in TensorFlow.js that computes what Hugging Face's BertModel computes:
 * word + position + token-type embeddings → LayerNorm → N × (self-attention, add & norm,
 * feed-forward with GELU, add & norm). Parameters carry HF names; dense kernels are kept as
 * `[in, out]` (HF stores `[out, in]`) so the forward pass is `x · W + b` without transposes.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { TF } from './backend.ts';
import type { BertConfig } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import type { TokenBatch } from './tokenizer.ts';
import { seededRandom } from '../util/random.ts';
import { EncoderBase, normalSampler, type ForwardOptions, type LayerOps } from './model-base.ts';

export { POOLINGS } from './model-base.ts';
export type { Pooling, ForwardOptions, EncoderModel } from './model-base.ts';

/** HF tensor names and `[out, in]`-layout shapes of a BertModel with this config (pooler excluded). */
export function bertTensorShapes(c: BertConfig): Map<string, number[]> {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const shapes = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [c.vocab_size, H]],
    ['embeddings.position_embeddings.weight', [c.max_position_embeddings, H]],
    ['embeddings.token_type_embeddings.weight', [c.type_vocab_size, H]],
    ['embeddings.LayerNorm.weight', [H]],
    ['embeddings.LayerNorm.bias', [H]],
  ]);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const name of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      shapes.set(`${p}${name}.weight`, [H, H]);
      shapes.set(`${p}${name}.bias`, [H]);
    }
    shapes.set(`${p}attention.output.LayerNorm.weight`, [H]);
    shapes.set(`${p}attention.output.LayerNorm.bias`, [H]);
    shapes.set(`${p}intermediate.dense.weight`, [I, H]);
    shapes.set(`${p}intermediate.dense.bias`, [I]);
    shapes.set(`${p}output.dense.weight`, [H, I]);
    shapes.set(`${p}output.dense.bias`, [H]);
    shapes.set(`${p}output.LayerNorm.weight`, [H]);
    shapes.set(`${p}output.LayerNorm.bias`, [H]);
  }
  return shapes;
}

export const POOLER_SHAPES = (c: BertConfig) =>
  new Map<string, number[]>([
    ['pooler.dense.weight', [c.hidden_size, c.hidden_size]],
    ['pooler.dense.bias', [c.hidden_size]],
  ]);

/**
 * Randomly initialized HF tensors: truncated normal (±2σ, σ = initializer_range) for dense and
 * embedding weights, zero biases, LayerNorm 1/0, the padding row of the word embeddings zeroed.
 * @example const tensors = initBertTensors(config, 1); // Map('embeddings.word_embeddings.weight' → …)
 */
export function initBertTensors(config: BertConfig, seed: number, withPooler = true): Map<string, NamedTensor> {
  const normal = normalSampler(seededRandom(seed));
  const std = config.initializer_range;
  const out = new Map<string, NamedTensor>();
  const shapes = bertTensorShapes(config);
  if (withPooler) for (const [k, v] of POOLER_SHAPES(config)) shapes.set(k, v);
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.includes('LayerNorm.weight')) data.fill(1);
    else if (name.endsWith('.weight')) {
      for (let i = 0; i < data.length; i++) {
        let z = normal();
        while (Math.abs(z) > 2) z = normal();
        data[i] = z * std;
      }
    }
    if (name === 'embeddings.word_embeddings.weight') data.fill(0, config.pad_token_id * shape[1], (config.pad_token_id + 1) * shape[1]);
    out.set(name, { shape, data });
  }
  return out;
}

/** The BERT encoder as tfjs variables (RoBERTa and DPR reuse it: see roberta.ts, dpr.ts). */
export class BertModel extends EncoderBase {
  constructor(tf: TF, config: BertConfig, tensors: Map<string, NamedTensor>, name = 'bert') {
    super(tf, config, tensors, name);
  }

  /** Position embeddings `[1, L, H]` (BERT: positions 0..L-1 for every sequence). */
  protected positionEmbeddings(batch: TokenBatch): Tensor {
    const { seqLen: L } = batch;
    const H = this.config.hidden_size;
    return this.tf.reshape(this.tf.slice(this.p('embeddings.position_embeddings.weight'), [0, 0], [L, H]), [1, L, H]); // [1, L, H]
  }

  /** Token type ids `[B*L]` (the tokenizer's). */
  protected tokenTypeIds(batch: TokenBatch): Int32Array {
    return batch.typeIds;
  }

  /** Sequence output `[batch, seqLen, hidden]` for a padded token batch. Call inside tf.tidy. */
  forward(batch: TokenBatch, opts: ForwardOptions = {}): Tensor {
    const { tf, config: c } = this;
    const { batch: B, seqLen: L } = batch;
    const H = c.hidden_size;
    const heads = c.num_attention_heads;
    const dh = H / heads;
    if (L > c.max_position_embeddings) throw new Error(`sequence length ${L} exceeds max_position_embeddings ${c.max_position_embeddings}`);
    const lo: LayerOps = this.layerOps(opts);
    const { ops, dropout, layerNorm, dense, act } = lo;

    const ids = tf.tensor1d(batch.ids, 'int32'); // [B*L]
    const typeIds = tf.tensor1d(this.tokenTypeIds(batch), 'int32'); // [B*L]
    const words = tf.reshape(tf.gather(this.p('embeddings.word_embeddings.weight'), ids), [B, L, H]); // [B, L, H]
    const positions = this.positionEmbeddings(batch); // [1 or B, L, H]
    const types = tf.reshape(tf.gather(this.p('embeddings.token_type_embeddings.weight'), typeIds), [B, L, H]); // [B, L, H]
    let x = tf.reshape(tf.add(tf.add(words, positions), types), [B * L, H]); // [B*L, H]
    x = dropout(layerNorm(x, 'embeddings.LayerNorm'), c.hidden_dropout_prob); // [B*L, H]

    // Padding keys get softmax weight exactly 0.
    const maskF = tf.tensor(Float32Array.from(batch.mask), [B, L], 'float32'); // [B, L]
    const scale = 1 / Math.sqrt(dh);

    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `encoder.layer.${l}.`;
      const q = dense(x, `${p}attention.self.query`); // [B*L, H]: head h is columns h·dh..(h+1)·dh
      const k = dense(x, `${p}attention.self.key`); // [B*L, H]
      const v = dense(x, `${p}attention.self.value`); // [B*L, H]
      const probs = dropout(ops.maskedSoftmax(ops.attentionScores(q, k, B, heads), maskF, scale), c.attention_probs_dropout_prob); // [B, heads, L, L]
      const context = ops.attentionContext(probs, v, heads); // [B*L, H]
      const attnOut = dropout(dense(context, `${p}attention.output.dense`), c.hidden_dropout_prob); // [B*L, H]
      x = layerNorm(tf.add(attnOut, x), `${p}attention.output.LayerNorm`); // [B*L, H]
      const inter = act(dense(x, `${p}intermediate.dense`)); // [B*L, I]
      const ffnOut = dropout(dense(inter, `${p}output.dense`), c.hidden_dropout_prob); // [B*L, H]
      x = layerNorm(tf.add(ffnOut, x), `${p}output.LayerNorm`); // [B*L, H]
    }
    return tf.reshape(x, [B, L, H]); // [B, L, H]
  }
}
