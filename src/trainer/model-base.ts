/**
 * What every encoder family shares (Tevatron's encoder/dense split): the parameters as tfjs
 * variables under HF names, dense kernels kept as `[in, out]` (HF stores `[out, in]`) so a layer is
 * `x · W + b` without transposes, dropout seeding, pooling (first token or mean), an optional
 * projection head and L2 normalization. A family implements only `forward` (and, for DPR, `project`).
 */
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import type { TF } from './backend.ts';
import type { EncoderConfig } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import type { TokenBatch } from './tokenizer.ts';
import { seededRandom } from '../util/random.ts';
import { fusedOps, type FusedOps } from './fused.ts';

/** `cls`: the first token's vector (BERT's [CLS], RoBERTa's <s>, OpenMatch's T5 first token); `mean`: over real tokens. */
/** How token vectors become one vector: the first token's (CLS, DPR; T5's first token) or the masked mean. */
export const POOLINGS = ['cls', 'mean'] as const;
export type Pooling = (typeof POOLINGS)[number];

export interface ForwardOptions {
  /** Dropout is applied when training (rates from the config). */
  training?: boolean;
  /** Seed of this forward pass's dropout masks: the same seed gives the same masks. */
  dropoutSeed?: number;
}

/** What trainers, encoders and checkpoints use of a model, whatever its family. */
export interface EncoderModel {
  readonly config: EncoderConfig;
  readonly name: string;
  /** Size of the vectors `embed` returns (DPR's projection_dim when it has one, else hidden_size). */
  readonly dim: number;
  /** Variables by HF name (dense kernels as `[in, out]`). */
  readonly params: Map<string, Variable>;
  /** Sequence output `[batch, seqLen, hidden]`. Call inside tf.tidy. */
  forward(batch: TokenBatch, opts?: ForwardOptions): Tensor;
  /** Pooled (projected, optionally L2-normalized) vectors `[batch, dim]`. Call inside tf.tidy. */
  embed(batch: TokenBatch, pooling: Pooling, normalize: boolean, opts?: ForwardOptions): Tensor2D;
  /** Parameters in HF layout (`[out, in]` dense weights), under the family's bare HF names. */
  toTensors(): Promise<Map<string, NamedTensor>>;
  /** Variables that get gradients. */
  trainable(): Variable[];
  dispose(): void;
}

/** Dense weights are 2-D and not embedding tables (word, position, token type, T5's shared and relative bias). */
export const isDenseKernel = (name: string, shape: readonly number[]) =>
  shape.length === 2 && !/(^|\.)(embeddings|shared|embed_tokens|relative_attention_bias)\./.test(name);

export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Standard normal samples from a seeded uniform generator (Box–Muller). */
export function normalSampler(rng: () => number): () => number {
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

/** Per-forward helpers a family's layers use: fused ops, seeded dropout, LayerNorm and dense by HF name. */
export interface LayerOps {
  ops: FusedOps;
  dropout(x: Tensor, rate: number): Tensor;
  layerNorm(x: Tensor, prefix: string): Tensor;
  /** `x · W + b` of the HF Linear `prefix` (no bias when it has none, as T5's). */
  dense(x: Tensor, prefix: string): Tensor2D;
  act(x: Tensor): Tensor;
}

export abstract class EncoderBase implements EncoderModel {
  readonly params = new Map<string, Variable>();
  /**
   * x·W + b with a hand-written gradient: tfjs's own takes the bias gradient with a Sum over
   * rows, which the wasm backend runs as a transpose plus reduction; a ones-row matmul is faster.
   */
  protected readonly denseOp: (x: Tensor2D, w: Tensor2D, b: Tensor) => Tensor2D;

  constructor(
    protected readonly tf: TF,
    readonly config: EncoderConfig,
    tensors: Map<string, NamedTensor>,
    readonly name: string,
  ) {
    for (const [key, t] of tensors) {
      let { shape, data } = t;
      if (isDenseKernel(key, shape)) {
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
    this.denseOp = custom as unknown as (x: Tensor2D, w: Tensor2D, b: Tensor) => Tensor2D;
  }

  get dim(): number {
    return this.config.projection_dim > 0 ? this.config.projection_dim : this.config.hidden_size;
  }

  abstract forward(batch: TokenBatch, opts?: ForwardOptions): Tensor;

  /** The pooled vectors through the family's head (identity but for DPR's projection). */
  protected project(pooled: Tensor2D, _layers: LayerOps): Tensor2D {
    return pooled;
  }

  protected p(name: string): Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`${this.constructor.name} ${this.name}: no parameter ${name}`);
    return v;
  }

  /** Helpers of one forward pass: dropout masks are drawn in call order from the pass's seed. */
  protected layerOps(opts: ForwardOptions): LayerOps {
    const { tf, config: c } = this;
    const ops = fusedOps(tf);
    // One seed per dropout site, drawn in order from this pass's seed: the masks are fixed by it.
    const rng = opts.training ? seededRandom(opts.dropoutSeed ?? 0) : undefined;
    return {
      ops,
      dropout: (x, rate) => (!rng || rate <= 0 ? x : ops.dropout(x, rate, Math.floor(rng() * 4294967296))),
      layerNorm: (x, prefix) => ops.layerNorm(x, this.p(`${prefix}.weight`), this.p(`${prefix}.bias`), c.layer_norm_eps),
      dense: (x, prefix) => {
        const w = this.p(`${prefix}.weight`) as unknown as Tensor2D;
        const b = this.params.get(`${prefix}.bias`);
        return b ? this.denseOp(x as Tensor2D, w, b) : (tf.matMul(x as Tensor2D, w) as Tensor2D);
      },
      act: (x) => {
        if (c.hidden_act === 'relu') return tf.relu(x);
        if (c.hidden_act === 'gelu_new') {
          const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
          return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
        }
        return ops.gelu(x); // exact (erf) GELU, HF "gelu"
      },
    };
  }

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
    pooled = this.project(pooled, this.layerOps(opts)); // [B, dim]
    if (normalize) pooled = tf.div(pooled, tf.sqrt(tf.add(tf.sum(tf.square(pooled), -1, true), 1e-12))) as Tensor2D; // [B, dim]
    return pooled;
  }

  async toTensors(): Promise<Map<string, NamedTensor>> {
    const out = new Map<string, NamedTensor>();
    for (const [key, v] of this.params) {
      let data = (await v.data()) as Float32Array;
      let shape = v.shape.slice();
      if (isDenseKernel(key, shape)) {
        data = transpose2d(data, shape[0], shape[1]);
        shape = [shape[1], shape[0]];
      }
      out.set(key, { shape, data: Float32Array.from(data) });
    }
    return out;
  }

  /** The pooler is kept for round trips but DPR does not use it. */
  trainable(): Variable[] {
    return [...this.params].filter(([k]) => !k.startsWith('pooler.')).map(([, v]) => v);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}
