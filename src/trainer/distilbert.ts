/**
 * DistilBERT as HF's DistilBertModel computes it: word + position embeddings (no token types) →
 * LayerNorm → N × (self-attention `q_lin/k_lin/v_lin/out_lin`, add & `sa_layer_norm`, FFN
 * `ffn.lin1` → activation → `ffn.lin2`, add & `output_layer_norm`). Post-norm like BERT; dropout only
 * after the embeddings, on attention probabilities and after `ffn.lin2` (none after `out_lin`).
 * Tensors are `distilbert.`-prefixed in task checkpoints.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { TF } from './backend.ts';
import type { EncoderConfig } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import type { TokenBatch } from './tokenizer.ts';
import { seededRandom } from '../util/random.ts';
import { EncoderBase, normalSampler, type ForwardOptions } from './model-base.ts';

/** HF tensor names and `[out, in]` shapes of a DistilBertModel. */
export function distilBertTensorShapes(c: EncoderConfig): Map<string, number[]> {
  const D = c.hidden_size;
  const I = c.intermediate_size;
  const shapes = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [c.vocab_size, D]],
    ['embeddings.position_embeddings.weight', [c.max_position_embeddings, D]],
    ['embeddings.LayerNorm.weight', [D]],
    ['embeddings.LayerNorm.bias', [D]],
  ]);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `transformer.layer.${l}.`;
    for (const name of ['attention.q_lin', 'attention.k_lin', 'attention.v_lin', 'attention.out_lin']) {
      shapes.set(`${p}${name}.weight`, [D, D]);
      shapes.set(`${p}${name}.bias`, [D]);
    }
    shapes.set(`${p}sa_layer_norm.weight`, [D]);
    shapes.set(`${p}sa_layer_norm.bias`, [D]);
    shapes.set(`${p}ffn.lin1.weight`, [I, D]);
    shapes.set(`${p}ffn.lin1.bias`, [I]);
    shapes.set(`${p}ffn.lin2.weight`, [D, I]);
    shapes.set(`${p}ffn.lin2.bias`, [D]);
    shapes.set(`${p}output_layer_norm.weight`, [D]);
    shapes.set(`${p}output_layer_norm.bias`, [D]);
  }
  return shapes;
}

/** HF's DistilBERT init: normal(0, initializer_range) weights, zero biases, LayerNorm 1/0, padding row of the word embeddings zeroed. */
export function initDistilBertTensors(config: EncoderConfig, seed: number): Map<string, NamedTensor> {
  const normal = normalSampler(seededRandom(seed));
  const out = new Map<string, NamedTensor>();
  for (const [name, shape] of distilBertTensorShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 1 && name.endsWith('.weight')) data.fill(1);
    else if (name.endsWith('.weight')) for (let i = 0; i < data.length; i++) data[i] = normal() * config.initializer_range;
    if (name === 'embeddings.word_embeddings.weight') data.fill(0, config.pad_token_id * shape[1], (config.pad_token_id + 1) * shape[1]);
    out.set(name, { shape, data });
  }
  return out;
}

export class DistilBertModel extends EncoderBase {
  constructor(tf: TF, config: EncoderConfig, tensors: Map<string, NamedTensor>, name = 'distilbert') {
    super(tf, config, tensors, name);
  }

  forward(batch: TokenBatch, opts: ForwardOptions = {}): Tensor {
    const { tf, config: c } = this;
    const { batch: B, seqLen: L } = batch;
    const D = c.hidden_size;
    const heads = c.num_attention_heads;
    if (L > c.max_position_embeddings) throw new Error(`sequence length ${L} exceeds max_position_embeddings ${c.max_position_embeddings}`);
    const { ops, dropout, layerNorm, dense, act } = this.layerOps(opts);

    const ids = tf.tensor1d(batch.ids, 'int32'); // [B*L]
    const words = tf.reshape(tf.gather(this.p('embeddings.word_embeddings.weight'), ids), [B, L, D]); // [B, L, D]
    const positions = tf.reshape(tf.slice(this.p('embeddings.position_embeddings.weight'), [0, 0], [L, D]), [1, L, D]); // [1, L, D]
    let x = tf.reshape(tf.add(words, positions), [B * L, D]); // [B*L, D]
    x = dropout(layerNorm(x, 'embeddings.LayerNorm'), c.hidden_dropout_prob); // [B*L, D]

    const maskF = tf.tensor(Float32Array.from(batch.mask), [B, L], 'float32'); // [B, L]
    const scale = 1 / Math.sqrt(D / heads);
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `transformer.layer.${l}.`;
      const q = dense(x, `${p}attention.q_lin`); // [B*L, D]
      const k = dense(x, `${p}attention.k_lin`); // [B*L, D]
      const v = dense(x, `${p}attention.v_lin`); // [B*L, D]
      const probs = dropout(ops.maskedSoftmax(ops.attentionScores(q, k, B, heads), maskF, scale), c.attention_probs_dropout_prob); // [B, heads, L, L]
      const context = ops.attentionContext(probs, v, heads); // [B*L, D]
      const attnOut = dense(context, `${p}attention.out_lin`); // [B*L, D]
      x = layerNorm(tf.add(attnOut, x), `${p}sa_layer_norm`); // [B*L, D]
      const inter = act(dense(x, `${p}ffn.lin1`)); // [B*L, I]
      const ffnOut = dropout(dense(inter, `${p}ffn.lin2`), c.hidden_dropout_prob); // [B*L, D]
      x = layerNorm(tf.add(ffnOut, x), `${p}output_layer_norm`); // [B*L, D]
    }
    return tf.reshape(x, [B, L, D]); // [B, L, D]
  }
}
