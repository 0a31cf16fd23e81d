/**
 * Inference-only forward pass of the post-norm BERT-layout families (BERT, DPR, RoBERTa, CamemBERT,
 * XLM-R, DistilBERT) on plain Float32Arrays through dprep's native kernels (OpenBLAS sgemm, fused
 * LayerNorm / GELU / masked softmax): what `encode`, `embed`, `eval` and `mine dense` run when the
 * native build is there. It computes what the tfjs models compute (bert.ts, roberta.ts,
 * distilbert.ts, dpr.ts), without autograd, tfjs's heap copies or per-op dispatch:
 * - Q, K and V are one GEMM against a `[3H, H]` weight, and attention reads the heads in place
 *   (leading dimension 3H), so no transposes or reshapes are materialized;
 * - dense weights stay in HF's `[out, in]` layout (sgemm with B transposed);
 * - with `cls` pooling the last layer runs its queries, attention output and feed-forward on the
 *   first token alone: nothing else reaches the pooled vector;
 * - buffers are kept between batches (they only grow).
 * T5 (relative attention bias, RMSNorm) stays on tfjs. DPREP_NATIVE_FORWARD=0 turns this off.
 * Outputs depend only on the batch: the same bytes in this thread or in a replica.
 */
import type { EncoderConfig } from './config.ts';
import type { NamedTensor } from './safetensors.ts';
import type { TokenBatch } from './tokenizer.ts';
import type { Pooling } from './model-base.ts';
import { loadNative, type NativeKernels } from './native.ts';
import { robertaPositionIds } from './roberta.ts';
import { maxSequenceLength, robertaPositions } from './families.ts';

/** The post-norm BERT-layout families (every family but T5). */
const NATIVE_TYPES = new Set(['bert', 'dpr', 'roberta', 'camembert', 'xlm-roberta', 'distilbert']);

/**
 * Why the native forward cannot run this config here, or undefined when it can.
 * @example nativeForwardUnavailable(config) ?? 'native' // 'native', or e.g. 'model_type t5 runs on tfjs'
 */
export function nativeForwardUnavailable(config: EncoderConfig): string | undefined {
  if (process.env.DPREP_NATIVE_FORWARD?.trim() === '0') return 'DPREP_NATIVE_FORWARD=0';
  if (!NATIVE_TYPES.has(config.model_type)) return `model_type ${config.model_type} runs on tfjs`;
  const native = loadNative();
  if (!native) return 'native kernels not built (scripts/build-native.sh)';
  if (!native.kernels.gatherAddRows) return 'the native build predates the native forward: rerun scripts/build-native.sh';
  return undefined;
}

interface Layer {
  qkvW: Float32Array; // [3H, H]: query rows, then key, then value
  qkvB: Float32Array; // [3H]
  outW: Float32Array;
  outB: Float32Array;
  norm1G: Float32Array;
  norm1B: Float32Array;
  interW: Float32Array; // [I, H]
  interB: Float32Array;
  ffnW: Float32Array; // [H, I]
  ffnB: Float32Array;
  norm2G: Float32Array;
  norm2B: Float32Array;
}

/** HF names of one layer's tensors, per layout. */
function layerNames(config: EncoderConfig, l: number) {
  if (config.model_type === 'distilbert') {
    const p = `transformer.layer.${l}.`;
    return {
      q: `${p}attention.q_lin`, k: `${p}attention.k_lin`, v: `${p}attention.v_lin`, out: `${p}attention.out_lin`, norm1: `${p}sa_layer_norm`,
      inter: `${p}ffn.lin1`, ffn: `${p}ffn.lin2`, norm2: `${p}output_layer_norm`,
    };
  }
  const p = `encoder.layer.${l}.`;
  return {
    q: `${p}attention.self.query`, k: `${p}attention.self.key`, v: `${p}attention.self.value`, out: `${p}attention.output.dense`,
    norm1: `${p}attention.output.LayerNorm`, inter: `${p}intermediate.dense`, ffn: `${p}output.dense`, norm2: `${p}output.LayerNorm`,
  };
}

/**
 * The forward pass of one encoder's weights (bare HF names, as readFamilyTensors gives them).
 * @example const fwd = new NativeForward(config, tensors); const vecs = fwd.embed(padBatch(tokens), 'cls', false); // [B, dim]
 */
export class NativeForward {
  readonly dim: number;
  private readonly k: NativeKernels;
  private readonly layers: Layer[] = [];
  private readonly word: Float32Array;
  private readonly position: Float32Array;
  private readonly tokenType?: Float32Array;
  private readonly embNormG: Float32Array;
  private readonly embNormB: Float32Array;
  private readonly proj?: { w: Float32Array; b: Float32Array };
  private readonly buffers = new Map<string, Float32Array>();

  constructor(
    readonly config: EncoderConfig,
    tensors: Map<string, NamedTensor>,
    kernels?: NativeKernels,
  ) {
    const why = kernels ? undefined : nativeForwardUnavailable(config);
    if (why) throw new Error(`native forward unavailable: ${why}`);
    this.k = kernels ?? loadNative()!.kernels;
    const t = (name: string): Float32Array => {
      const x = tensors.get(name);
      if (!x) throw new Error(`native forward (${config.model_type}): no tensor ${name}`);
      return x.data;
    };
    const H = config.hidden_size;
    if (H % config.num_attention_heads !== 0) throw new Error(`hidden_size ${H} is not a multiple of num_attention_heads ${config.num_attention_heads}`);
    this.word = t('embeddings.word_embeddings.weight');
    this.position = t('embeddings.position_embeddings.weight');
    if (config.model_type !== 'distilbert') this.tokenType = t('embeddings.token_type_embeddings.weight');
    this.embNormG = t('embeddings.LayerNorm.weight');
    this.embNormB = t('embeddings.LayerNorm.bias');
    for (let l = 0; l < config.num_hidden_layers; l++) {
      const n = layerNames(config, l);
      const qkvW = new Float32Array(3 * H * H);
      const qkvB = new Float32Array(3 * H);
      [n.q, n.k, n.v].forEach((name, i) => {
        qkvW.set(t(`${name}.weight`), i * H * H);
        qkvB.set(t(`${name}.bias`), i * H);
      });
      this.layers.push({
        qkvW, qkvB, outW: t(`${n.out}.weight`), outB: t(`${n.out}.bias`), norm1G: t(`${n.norm1}.weight`), norm1B: t(`${n.norm1}.bias`),
        interW: t(`${n.inter}.weight`), interB: t(`${n.inter}.bias`), ffnW: t(`${n.ffn}.weight`), ffnB: t(`${n.ffn}.bias`),
        norm2G: t(`${n.norm2}.weight`), norm2B: t(`${n.norm2}.bias`),
      });
    }
    if (config.model_type === 'dpr' && config.projection_dim > 0) this.proj = { w: t('encode_proj.weight'), b: t('encode_proj.bias') };
    this.dim = this.proj ? config.projection_dim : H;
  }

  /** Bytes this forward holds: its weights (the fused Q/K/V copy included) and its kept buffers. */
  get bytes(): number {
    let n = this.word.byteLength + this.position.byteLength + (this.tokenType?.byteLength ?? 0) + this.embNormG.byteLength + this.embNormB.byteLength;
    for (const l of this.layers) for (const a of Object.values(l)) n += a.byteLength;
    if (this.proj) n += this.proj.w.byteLength + this.proj.b.byteLength;
    for (const b of this.buffers.values()) n += b.byteLength;
    return n;
  }

  /** A kept buffer of `n` floats (contents undefined). */
  private buf(name: string, n: number): Float32Array {
    let b = this.buffers.get(name);
    if (!b || b.length < n) this.buffers.set(name, (b = new Float32Array(Math.max(n, Math.ceil((b?.length ?? 0) * 1.25)))));
    return b.subarray(0, n);
  }

  /** x·Wᵀ + b for `rows` rows of x, W `[out, in]`. */
  private dense(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, rows: number, out: number, inner: number): void {
    this.k.sgemm(x, w, y, 1, rows, out, inner, false, true, 0, 0, 0, b);
  }

  private activate(x: Float32Array): void {
    const act = this.config.hidden_act;
    if (act === 'gelu') this.k.geluForward(x, x);
    else if (act === 'relu') for (let i = 0; i < x.length; i++) x[i] = x[i] > 0 ? x[i] : 0;
    else {
      const c = Math.sqrt(2 / Math.PI);
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        x[i] = 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v)));
      }
    }
  }

  /** Embeddings → LayerNorm, `[B*L, H]`. */
  private embeddings(batch: TokenBatch): Float32Array {
    const c = this.config;
    const { batch: B, seqLen: L } = batch;
    const H = c.hidden_size;
    const x = this.buf('x', B * L * H);
    const roberta = robertaPositions(c);
    const most = maxSequenceLength(c);
    if (L > most) {
      throw new Error(`sequence length ${L} exceeds ${roberta ? `${most} tokens (positions start at pad_token_id + 1)` : `max_position_embeddings ${most}`}`);
    }
    for (const id of batch.ids) if (id < 0 || id >= c.vocab_size) throw new Error(`token id ${id} outside the vocabulary (vocab_size ${c.vocab_size})`);
    let positions: Int32Array;
    if (roberta) positions = robertaPositionIds(batch, c.pad_token_id);
    else {
      positions = new Int32Array(B * L);
      for (let r = 0; r < B * L; r++) positions[r] = r % L;
    }
    if (this.tokenType) {
      const types = c.type_vocab_size <= 1 ? new Int32Array(B * L) : batch.typeIds;
      this.k.gatherAddRows!(x, H, this.word, batch.ids, this.position, positions, this.tokenType, types);
    } else this.k.gatherAddRows!(x, H, this.word, batch.ids, this.position, positions);
    this.k.layerNormForward(x, this.embNormG, this.embNormB, x, H, c.layer_norm_eps);
    return x;
  }

  /**
   * One layer in place on `x` (`[rows, H]`): every token, or with `firstOnly` the queries of the
   * first token of each sequence alone (x becomes `[B, H]`, returned).
   */
  private layer(layer: Layer, x: Float32Array, mask: Float32Array, B: number, L: number, firstOnly: boolean): Float32Array {
    const c = this.config;
    const H = c.hidden_size;
    const I = c.intermediate_size;
    const heads = c.num_attention_heads;
    const dh = H / heads;
    const T = B * L;
    const k = this.k;
    const qkv = this.buf('qkv', T * 3 * H);
    this.dense(x, layer.qkvW, layer.qkvB, qkv, T, 3 * H, H);
    const Q = firstOnly ? 1 : L; // query rows per sequence
    const rows = B * Q;
    const scores = this.buf('scores', B * heads * Q * L);
    // scores[b, h] = Q_bh · K_bhᵀ, reading head h's columns of the fused [T, 3H] matrix in place.
    k.sgemmHeads(qkv, qkv.subarray(H), scores, [B, heads, Q, L, dh, 3 * H, 3 * H, L, L * 3 * H, dh, L * 3 * H, dh, heads * Q * L, Q * L], false, true);
    k.maskedSoftmaxForward(scores, mask, scores, L, heads * Q, 1 / Math.sqrt(dh));
    const context = this.buf('context', rows * H);
    k.sgemmHeads(scores, qkv.subarray(2 * H), context, [B, heads, Q, dh, L, L, 3 * H, H, heads * Q * L, Q * L, L * 3 * H, dh, Q * H, dh], false, false);
    let residual = x;
    if (firstOnly) {
      residual = this.buf('first', rows * H);
      for (let b = 0; b < B; b++) residual.set(x.subarray(b * L * H, b * L * H + H), b * H);
    }
    const h = this.buf('h', rows * H);
    this.dense(context, layer.outW, layer.outB, h, rows, H, H);
    k.addInto(h, residual);
    k.layerNormForward(h, layer.norm1G, layer.norm1B, residual, H, c.layer_norm_eps);
    const inter = this.buf('inter', rows * I);
    this.dense(residual, layer.interW, layer.interB, inter, rows, I, H);
    this.activate(inter);
    this.dense(inter, layer.ffnW, layer.ffnB, h, rows, H, I);
    k.addInto(h, residual);
    k.layerNormForward(h, layer.norm2G, layer.norm2B, residual, H, c.layer_norm_eps);
    return residual;
  }

  /** Sequence output `[B*L, H]` (a kept buffer: copy it before the next call). */
  sequence(batch: TokenBatch): Float32Array {
    const mask = Float32Array.from(batch.mask);
    let x = this.embeddings(batch);
    for (const layer of this.layers) x = this.layer(layer, x, mask, batch.batch, batch.seqLen, false);
    return x;
  }

  /** Pooled (projected, optionally L2-normalized) vectors `[B, dim]`, in a new array. */
  embed(batch: TokenBatch, pooling: Pooling, normalize: boolean): Float32Array {
    const { batch: B, seqLen: L } = batch;
    const H = this.config.hidden_size;
    const mask = Float32Array.from(batch.mask);
    let x = this.embeddings(batch);
    const last = this.layers.length - 1;
    this.layers.forEach((layer, l) => (x = this.layer(layer, x, mask, B, L, pooling === 'cls' && l === last)));
    let pooled = new Float32Array(B * H);
    if (pooling === 'cls') {
      // After a first-token-only last layer x is [B, H] already.
      if (this.layers.length) pooled.set(x);
      else for (let b = 0; b < B; b++) pooled.set(x.subarray(b * L * H, b * L * H + H), b * H);
    }
    if (pooling === 'mean') {
      const sum = new Float64Array(H);
      for (let b = 0; b < B; b++) {
        sum.fill(0);
        let n = 0;
        for (let t = 0; t < L; t++) {
          if (!batch.mask[b * L + t]) continue;
          n++;
          const o = (b * L + t) * H;
          for (let j = 0; j < H; j++) sum[j] += x[o + j];
        }
        for (let j = 0; j < H; j++) pooled[b * H + j] = sum[j] / Math.max(n, 1);
      }
    }
    if (this.proj) {
      const out = new Float32Array(B * this.dim);
      this.dense(pooled, this.proj.w, this.proj.b, out, B, this.dim, H);
      pooled = out;
    }
    if (normalize) {
      const D = this.dim;
      for (let b = 0; b < B; b++) {
        let s = 0;
        for (let j = 0; j < D; j++) s += pooled[b * D + j] ** 2;
        const inv = 1 / Math.sqrt(s + 1e-12);
        for (let j = 0; j < D; j++) pooled[b * D + j] *= inv;
      }
    }
    return pooled;
  }
}
