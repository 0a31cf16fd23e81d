/**
 * DPR encoders with a projection layer (DPRConfig `projection_dim > 0`): HF's DPREncoder is a
 * BertModel without pooler whose first-token vector goes through `encode_proj` (Linear H → P).
 * dprep applies the projection to whichever pooled vector (first token, as DPR, or mean).
 * In HF checkpoints the tensors are `question_encoder.bert_model.*` / `ctx_encoder.bert_model.*`
 * and `question_encoder.encode_proj.*` / `ctx_encoder.encode_proj.*`.
 */
import type { Tensor2D } from '@tensorflow/tfjs-core';
import type { BertConfig } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import { BertModel, bertTensorShapes, initBertTensors } from './bert.ts';
import type { LayerOps } from './model-base.ts';
import { deriveSeed } from '../util/random.ts';
import { normalSampler } from './model-base.ts';
import { seededRandom } from '../util/random.ts';

/** DPR tensors under dprep's names: BertModel's plus `encode_proj.{weight,bias}` (`[P, H]`, `[P]`). */
export function dprTensorShapes(c: BertConfig): Map<string, number[]> {
  const shapes = bertTensorShapes(c);
  if (c.projection_dim > 0) {
    shapes.set('encode_proj.weight', [c.projection_dim, c.hidden_size]);
    shapes.set('encode_proj.bias', [c.projection_dim]);
  }
  return shapes;
}

/** HF's prefix of one DPR encoder's tensors. */
export const dprPrefix = (role: 'query' | 'passage') => (role === 'passage' ? 'ctx_encoder.' : 'question_encoder.');

/** dprep name → DPRQuestionEncoder / DPRContextEncoder state-dict name. */
export const dprHfName = (name: string, role: 'query' | 'passage') => dprPrefix(role) + (name.startsWith('encode_proj.') ? name : `bert_model.${name}`);

export class DprModel extends BertModel {
  protected override project(pooled: Tensor2D, lo: LayerOps): Tensor2D {
    return this.config.projection_dim > 0 ? lo.dense(pooled, 'encode_proj') : pooled; // [B, P]
  }
}

/** BERT's init (no pooler: DPR has none) and encode_proj normal(0, initializer_range), zero bias. */
export function initDprTensors(config: BertConfig, seed: number): Map<string, NamedTensor> {
  const out = initBertTensors(config, seed, false);
  if (config.projection_dim > 0) {
    const normal = normalSampler(seededRandom(deriveSeed(seed, 'encode_proj')));
    const w = new Float32Array(config.projection_dim * config.hidden_size);
    for (let i = 0; i < w.length; i++) w[i] = normal() * config.initializer_range;
    out.set('encode_proj.weight', { shape: [config.projection_dim, config.hidden_size], data: w });
    out.set('encode_proj.bias', { shape: [config.projection_dim], data: new Float32Array(config.projection_dim) });
  }
  return out;
}
