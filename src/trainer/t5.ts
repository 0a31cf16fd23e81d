/**
 * The encoder of T5 (HF's T5EncoderModel): token embeddings (`shared`, no positions, no scaling) →
 * N × pre-norm blocks (RMSNorm → self-attention with a learned relative position bias and no
 * 1/√d scaling → residual; RMSNorm → ReLU or gated-GELU FFN → residual) → final RMSNorm.
 * No Linear has a bias. The bias table lives in block 0 only and is shared by every block.
 * RMSNorm and the relative bias are tfjs op chains (dprep's native kernels do not cover them);
 * dense layers, softmax and dropout use the same fused/native kernels as BERT.
 */
import type { Tensor, Tensor2D } from '@tensorflow/tfjs-core';
import type { TF } from './backend.ts';
import type { EncoderConfig, T5Fields } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import type { TokenBatch } from './tokenizer.ts';
import { seededRandom } from '../util/random.ts';
import { EncoderBase, normalSampler, type ForwardOptions } from './model-base.ts';

const BIAS = 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight';

/** HF tensor names and `[out, in]` shapes of a T5EncoderModel (the tied `encoder.embed_tokens.weight` is `shared.weight`). */
export function t5TensorShapes(c: EncoderConfig): Map<string, number[]> {
  const t5 = c.t5!;
  const D = c.hidden_size;
  const inner = t5.d_kv * c.num_attention_heads;
  const F = c.intermediate_size;
  const shapes = new Map<string, number[]>([['shared.weight', [c.vocab_size, D]]]);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `encoder.block.${l}.`;
    for (const n of ['q', 'k', 'v']) shapes.set(`${p}layer.0.SelfAttention.${n}.weight`, [inner, D]);
    shapes.set(`${p}layer.0.SelfAttention.o.weight`, [D, inner]);
    if (l === 0) shapes.set(BIAS, [t5.relative_attention_num_buckets, c.num_attention_heads]);
    shapes.set(`${p}layer.0.layer_norm.weight`, [D]);
    for (const n of t5.is_gated ? ['wi_0', 'wi_1'] : ['wi']) shapes.set(`${p}layer.1.DenseReluDense.${n}.weight`, [F, D]);
    shapes.set(`${p}layer.1.DenseReluDense.wo.weight`, [D, F]);
    shapes.set(`${p}layer.1.layer_norm.weight`, [D]);
  }
  shapes.set('encoder.final_layer_norm.weight', [D]);
  return shapes;
}

/** HF's T5 init (factor = initializer_factor): std factor for `shared`, factor·d^-½ by fan-in otherwise, RMSNorm weights = factor. */
export function initT5Tensors(config: EncoderConfig, seed: number): Map<string, NamedTensor> {
  const normal = normalSampler(seededRandom(seed));
  const f = config.initializer_range;
  const D = config.hidden_size;
  const dkv = config.t5!.d_kv;
  const H = config.num_attention_heads;
  const std = (name: string): number => {
    if (name === 'shared.weight') return f;
    if (name.endsWith('SelfAttention.q.weight')) return f * (D * dkv) ** -0.5;
    if (name.endsWith('SelfAttention.o.weight')) return f * (H * dkv) ** -0.5;
    if (name.endsWith('DenseReluDense.wo.weight')) return f * config.intermediate_size ** -0.5;
    return f * D ** -0.5; // k, v, wi, wi_0, wi_1, relative_attention_bias
  };
  const out = new Map<string, NamedTensor>();
  for (const [name, shape] of t5TensorShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 1) data.fill(f);
    else for (let i = 0, s = std(name); i < data.length; i++) data[i] = normal() * s;
    out.set(name, { shape, data });
  }
  return out;
}

/**
 * HF's bidirectional relative position bucket of `rel` = key position − query position: half the
 * buckets per direction, exact below max_exact = buckets/4, log-spaced up to max_distance beyond.
 * The log part is computed in float32 as PyTorch does (a float64 result could cross a bucket edge).
 */
export function relativePositionBucket(rel: number, t5: Pick<T5Fields, 'relative_attention_num_buckets' | 'relative_attention_max_distance'>): number {
  const f32 = Math.fround;
  const half = Math.floor(t5.relative_attention_num_buckets / 2);
  const base = rel > 0 ? half : 0;
  const n = Math.abs(rel);
  const maxExact = Math.floor(half / 2);
  if (n < maxExact) return base + n;
  const ratio = f32(f32(Math.log(f32(n / maxExact))) / f32(Math.log(t5.relative_attention_max_distance / maxExact)));
  const large = maxExact + Math.trunc(f32(ratio * (half - maxExact)));
  return base + Math.min(large, half - 1);
}

export class T5EncoderModel extends EncoderBase {
  private readonly rmsNormOp: (x: Tensor, w: Tensor) => Tensor;

  constructor(tf: TF, config: EncoderConfig, tensors: Map<string, NamedTensor>, name = 't5') {
    super(tf, config, tensors, name);
    const eps = config.layer_norm_eps;
    // The backward written out: autodiff's weight gradient is a column Sum over [N, D], which tfjs-wasm
    // runs by transposing first (the largest non-matmul cost of a T5 step); here it is a [1, N]·[N, D]
    // product on the native GEMM, and the op chain's backward (Pow, Cast, broadcasts) shrinks to 7 ops.
    this.rmsNormOp = tf.customGrad(((x: Tensor, w: Tensor, save: (ts: Tensor[]) => void) => {
      const r = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)); // [N, 1]
      const n = tf.mul(x, r); // [N, D]
      save([n, r, w]);
      return {
        value: tf.mul(n, w), // [N, D]
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const [ns, rs, ws] = saved;
          const g = tf.mul(dy, ws); // [N, D]
          // d/dx of x·r: r·(g − n·mean(g·n)), since ∂r/∂x_j = −r³·x_j / D
          const dx = tf.mul(rs, tf.sub(g, tf.mul(ns, tf.mean(tf.mul(g, ns), -1, true)))); // [N, D]
          const dw = tf.reshape(tf.matMul(tf.ones([1, dy.shape[0]]) as Tensor2D, tf.mul(dy, ns) as Tensor2D), [ws.shape[0]]); // [D]
          return [dx, dw];
        },
      };
    }) as any) as unknown as (x: Tensor, w: Tensor) => Tensor;
  }

  /** T5LayerNorm: x / √(mean(x²) + eps) · w (no mean subtraction, no bias); forward ops as HF orders them. */
  private rmsNorm(x: Tensor, name: string): Tensor {
    return this.rmsNormOp(x, this.p(name)); // [N, D]
  }

  /** The relative position bias `[1, heads, L, L]` shared by every block. */
  private positionBias(L: number): Tensor {
    const { tf, config: c } = this;
    const buckets = new Int32Array(L * L);
    for (let q = 0; q < L; q++) for (let k = 0; k < L; k++) buckets[q * L + k] = relativePositionBucket(k - q, c.t5!);
    const values = tf.gather(this.p(BIAS), tf.tensor1d(buckets, 'int32')); // [L*L, heads]
    return tf.reshape(tf.transpose(tf.reshape(values, [L, L, c.num_attention_heads]), [2, 0, 1]), [1, c.num_attention_heads, L, L]); // [1, heads, L, L]
  }

  forward(batch: TokenBatch, opts: ForwardOptions = {}): Tensor {
    const { tf, config: c } = this;
    const { batch: B, seqLen: L } = batch;
    const D = c.hidden_size;
    const heads = c.num_attention_heads;
    const { ops, dropout, dense, act } = this.layerOps(opts);
    const rate = c.hidden_dropout_prob;

    const ids = tf.tensor1d(batch.ids, 'int32'); // [B*L]
    let x = dropout(tf.gather(this.p('shared.weight'), ids), rate); // [B*L, D]
    const maskF = tf.tensor(Float32Array.from(batch.mask), [B, L], 'float32'); // [B, L]
    const bias = this.positionBias(L); // [1, heads, L, L]
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `encoder.block.${l}.layer.`;
      const h = this.rmsNorm(x, `${p}0.layer_norm.weight`); // [B*L, D]
      const q = dense(h, `${p}0.SelfAttention.q`); // [B*L, heads·d_kv]
      const k = dense(h, `${p}0.SelfAttention.k`); // [B*L, heads·d_kv]
      const v = dense(h, `${p}0.SelfAttention.v`); // [B*L, heads·d_kv]
      const scores = tf.add(ops.attentionScores(q, k, B, heads), bias); // [B, heads, L, L]
      const probs = dropout(ops.maskedSoftmax(scores, maskF, 1), rate); // [B, heads, L, L]
      const context = ops.attentionContext(probs, v, heads); // [B*L, heads·d_kv]
      x = tf.add(x, dropout(dense(context, `${p}0.SelfAttention.o`), rate)); // [B*L, D]
      const g = this.rmsNorm(x, `${p}1.layer_norm.weight`); // [B*L, D]
      const inner = c.t5!.is_gated
        ? tf.mul(act(dense(g, `${p}1.DenseReluDense.wi_0`)), dense(g, `${p}1.DenseReluDense.wi_1`)) // [B*L, F]
        : act(dense(g, `${p}1.DenseReluDense.wi`)); // [B*L, F]
      x = tf.add(x, dropout(dense(dropout(inner, rate), `${p}1.DenseReluDense.wo`), rate)); // [B*L, D]
    }
    x = dropout(this.rmsNorm(x, 'encoder.final_layer_norm.weight'), rate); // [B*L, D]
    return tf.reshape(x, [B, L, D]); // [B, L, D]
  }
}
