/**
 * RoBERTa, CamemBERT and XLM-RoBERTa: HF's RobertaModel is BertModel with the same tensor names
 * (`roberta.`-prefixed in task checkpoints) and two differences, both in the embeddings:
 * position ids count real tokens from `padding_idx + 1` (pads get `padding_idx`), and there is
 * one token type.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { BertConfig } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import type { TokenBatch } from './tokenizer.ts';
import { seededRandom } from '../util/random.ts';
import { BertModel, bertTensorShapes } from './bert.ts';
import { normalSampler } from './model-base.ts';

/**
 * HF's create_position_ids_from_input_ids: cumsum(ids ≠ pad)·(ids ≠ pad) + pad, so real tokens get
 * pad+1, pad+2, … and padding gets pad itself. HF tests only the ids; padBatch pads with id 0, so
 * the attention mask marks padding too (same result as HF given pad ids there).
 */
export function robertaPositionIds(batch: TokenBatch, padId: number): Int32Array {
  const { batch: B, seqLen: L, ids } = batch;
  const out = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let t = 0; t < L; t++) {
      const real = ids[b * L + t] !== padId && batch.mask[b * L + t] !== 0;
      if (real) count++;
      out[b * L + t] = real ? count + padId : padId;
    }
  }
  return out;
}

export class RobertaModel extends BertModel {
  protected override positionEmbeddings(batch: TokenBatch): Tensor {
    const { tf, config: c } = this;
    const { batch: B, seqLen: L } = batch;
    const positionIds = tf.tensor1d(robertaPositionIds(batch, c.pad_token_id), 'int32'); // [B*L]
    if (L + c.pad_token_id >= c.max_position_embeddings) {
      const most = c.max_position_embeddings - c.pad_token_id - 1;
      throw new Error(`sequence length ${L} exceeds ${most} tokens (positions start at pad_token_id + 1 = ${c.pad_token_id + 1}; max_position_embeddings ${c.max_position_embeddings})`);
    }
    return tf.reshape(tf.gather(this.p('embeddings.position_embeddings.weight'), positionIds), [B, L, c.hidden_size]); // [B, L, H]
  }

  /** One token type: every token gets row 0, whatever a pair template's tokenizer says. */
  protected override tokenTypeIds(batch: TokenBatch): Int32Array {
    return this.config.type_vocab_size === 1 ? new Int32Array(batch.ids.length) : batch.typeIds;
  }
}

/**
 * Random RobertaModel tensors as HF initializes them: normal(0, initializer_range) for dense and
 * embedding weights, zero biases, LayerNorm 1/0, and the `padding_idx` rows of both the word and
 * the position embeddings zeroed (both are nn.Embedding(padding_idx=pad_token_id) in HF).
 */
export function initRobertaTensors(config: BertConfig, seed: number, withPooler = true): Map<string, NamedTensor> {
  const normal = normalSampler(seededRandom(seed));
  const shapes = bertTensorShapes(config);
  const H = config.hidden_size;
  if (withPooler) {
    shapes.set('pooler.dense.weight', [H, H]);
    shapes.set('pooler.dense.bias', [H]);
  }
  const out = new Map<string, NamedTensor>();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.includes('LayerNorm.weight')) data.fill(1);
    else if (name.endsWith('.weight')) for (let i = 0; i < data.length; i++) data[i] = normal() * config.initializer_range;
    if (name === 'embeddings.word_embeddings.weight' || name === 'embeddings.position_embeddings.weight') {
      data.fill(0, config.pad_token_id * H, (config.pad_token_id + 1) * H);
    }
    out.set(name, { shape, data });
  }
  return out;
}
