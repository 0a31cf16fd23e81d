/**
 * A BERT encoder in TensorFlow.js that computes what Hugging Face's BertModel computes:
 * word + position + token-type embeddings → LayerNorm → N × (self-attention, add & norm,
 * feed-forward with GELU, add & norm). Parameters carry HF names; dense kernels are kept as
 * `[in, out]` (HF stores `[out, in]`) so the forward pass is `x · W + b` without transposes.
 */
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import type { TF } from './backend.ts';
import type { BertConfig } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import type { TokenBatch } from './tokenizer.ts';
import { seededRandom } from '../util/random.ts';
import { fusedOps } from './fused.ts';

export const POOLINGS = ['cls', 'mean'] as const;
export type Pooling = (typeof POOLINGS)[number];

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

/** Dense layers' weights are `[out, in]` in HF and `[in, out]` here. */
const isDenseKernel = (name: string) => name.endsWith('.weight') && !name.startsWith('embeddings.') && !name.includes('LayerNorm');

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Standard normal samples from a seeded uniform generator (Box–Muller). */
function normalSampler(rng: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - rng();
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

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

export interface ForwardOptions {
  /** Dropout is applied when training (rates from the config). */
  training?: boolean;
  /** Seed of this forward pass's dropout masks: the same seed gives the same masks. */
  dropoutSeed?: number;
}

/** The BERT encoder as tfjs variables. */
export class BertModel {
  /** Trainable variables by HF name (dense kernels as `[in, out]`). */
  readonly params = new Map<string, Variable>();

  constructor(
    private readonly tf: TF,
    readonly config: BertConfig,
    tensors: Map<string, NamedTensor>,
    readonly name = 'bert',
  ) {
    for (const [key, t] of tensors) {
      let { shape, data } = t;
      if (isDenseKernel(key)) {
        data = transpose2d(data, shape[0], shape[1]);
        shape = [shape[1], shape[0]];
      }
      this.params.set(key, tf.variable(tf.tensor(data, shape, 'float32'), true, `${name}/${key}`));
    }
    const custom = tf.customGrad(((x: Tensor, w: Tensor, b: Tensor, save: (ts: Tensor[]) => void) => {
      save([x, w]);
      return {
        value: tf.fused.matMul({ a: x as Tensor2D, b: w as Tensor2D, bias: b }), // [N, out]
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const [xs, ws] = saved as [Tensor2D, Tensor2D];
          const g = dy as Tensor2D; // [N, out]
          const dx = tf.matMul(g, ws, false, true); // [N, in]
          const dw = tf.matMul(xs, g, true, false); // [in, out]
          const db = tf.reshape(tf.matMul(tf.ones([1, g.shape[0]]) as Tensor2D, g), [g.shape[1]]); // [out]
          return [dx, dw, db];
        },
      };
    }) as any);
    this.dense = custom as unknown as (x: Tensor2D, w: Tensor2D, b: Tensor) => Tensor2D;
  }

  /** The parameters in HF layout (`[out, in]` dense weights), for safetensors. */
  async toTensors(): Promise<Map<string, NamedTensor>> {
    const out = new Map<string, NamedTensor>();
    for (const [key, v] of this.params) {
      let data = (await v.data()) as Float32Array;
      let shape = v.shape.slice();
      if (isDenseKernel(key)) {
        data = transpose2d(data, shape[0], shape[1]);
        shape = [shape[1], shape[0]];
      }
      out.set(key, { shape, data: Float32Array.from(data) });
    }
    return out;
  }

  /** Variables that get gradients (the pooler is kept for round trips but DPR does not use it). */
  trainable(): Variable[] {
    return [...this.params].filter(([k]) => !k.startsWith('pooler.')).map(([, v]) => v);
  }

  private p(name: string): Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`BertModel ${this.name}: no parameter ${name}`);
    return v;
  }

  /**
   * x·W + b with a hand-written gradient: tfjs's own takes the bias gradient with a Sum over
   * rows, which the wasm backend runs as a transpose plus reduction; a ones-row matmul is faster.
   */
  private readonly dense: (x: Tensor2D, w: Tensor2D, b: Tensor) => Tensor2D;

  /** Sequence output `[batch, seqLen, hidden]` for a padded token batch. Call inside tf.tidy. */
  forward(batch: TokenBatch, opts: ForwardOptions = {}): Tensor {
    const { tf, config: c } = this;
    const { batch: B, seqLen: L } = batch;
    const H = c.hidden_size;
    const heads = c.num_attention_heads;
    const dh = H / heads;
    if (L > c.max_position_embeddings) throw new Error(`sequence length ${L} exceeds max_position_embeddings ${c.max_position_embeddings}`);
    const ops = fusedOps(tf);
    // One seed per dropout site, drawn in order from this pass's seed: the masks are fixed by it.
    const rng = opts.training ? seededRandom(opts.dropoutSeed ?? 0) : undefined;
    const dropout = (x: Tensor, rate: number): Tensor => {
      if (!rng || rate <= 0) return x;
      return ops.dropout(x, rate, Math.floor(rng() * 4294967296));
    };
    const layerNorm = (x: Tensor, prefix: string): Tensor => ops.layerNorm(x, this.p(`${prefix}.weight`), this.p(`${prefix}.bias`), c.layer_norm_eps);
    const dense = (x: Tensor, prefix: string): Tensor2D => this.dense(x as Tensor2D, this.p(`${prefix}.weight`) as unknown as Tensor2D, this.p(`${prefix}.bias`));
    const act = (x: Tensor): Tensor => {
      if (c.hidden_act === 'relu') return tf.relu(x);
      if (c.hidden_act === 'gelu_new') {
        const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
        return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
      }
      return ops.gelu(x); // exact (erf) GELU, HF "gelu"
    };

    const ids = tf.tensor1d(batch.ids, 'int32'); // [B*L]
    const typeIds = tf.tensor1d(batch.typeIds, 'int32'); // [B*L]
    const words = tf.reshape(tf.gather(this.p('embeddings.word_embeddings.weight'), ids), [B, L, H]); // [B, L, H]
    const positions = tf.reshape(tf.slice(this.p('embeddings.position_embeddings.weight'), [0, 0], [L, H]), [1, L, H]); // [1, L, H]
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

  /** Pooled (and optionally L2-normalized) vectors `[batch, hidden]`. Call inside tf.tidy. */
  embed(batch: TokenBatch, pooling: Pooling, normalize: boolean, opts: ForwardOptions = {}): Tensor2D {
    const { tf } = this;
    const { batch: B, seqLen: L } = batch;
    const H = this.config.hidden_size;
    const seq = this.forward(batch, opts); // [B, L, H]
    let pooled: Tensor2D;
    if (pooling === 'cls') pooled = tf.reshape(tf.slice(seq, [0, 0, 0], [B, 1, H]), [B, H]) as Tensor2D; // [B, H]
    else {
      const mask = tf.tensor(batch.mask, [B, L, 1], 'float32'); // [B, L, 1]
      const summed = tf.sum(tf.mul(seq, mask), 1); // [B, H]
      pooled = tf.div(summed, tf.maximum(tf.sum(mask, 1), 1)) as Tensor2D; // [B, H]
    }
    if (normalize) pooled = tf.div(pooled, tf.sqrt(tf.add(tf.sum(tf.square(pooled), -1, true), 1e-12))) as Tensor2D; // [B, H]
    return pooled;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}
