/**
 * Fused BERT kernels for the wasm and cpu backends: GELU, LayerNorm, masked softmax and dropout,
 * each one pass over memory forward and one backward, registered as tfjs kernels with gradients.
 * Written as tfjs ops they are chains of 5–10 element-wise kernels (and as many tape entries and
 * saved copies) that took most of a BERT-tiny training step once matrix products were fast.
 *
 * Arithmetic is done in double per element and stored as float32. Dropout draws its mask from a
 * seed (mulberry32 per element, as src/util/random.ts), so backprop regenerates it instead of
 * keeping it, and the op chain used on other backends draws the very same mask.
 * `fusedOps(tf)` gives the fused versions where registered, else the equivalent op chains.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { TF } from './tf-types.ts';
import { seededRandom } from '../util/random.ts';
import type { NativeKernels } from './native.ts';
import { heapOf, type Heap, type TensorInfoLike } from './heap.ts';

type Info = TensorInfoLike;

/**
 * erf(x) from erfc's Chebyshev fit (Numerical Recipes' erfcc): fractional error of erfc below
 * 1.2e-7, so 1 + erf(x), what GELU needs, is float32-accurate.
 */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const c =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - c : c - 1;
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Dropout mask value for each element: 0 with probability `rate`, else 1/(1 − rate). */
function forEachKeep(n: number, rate: number, seed: number, f: (i: number, keep: number) => void): void {
  const rng = seededRandom(seed);
  const keep = 1 / (1 - rate);
  for (let i = 0; i < n; i++) f(i, rng() < rate ? 0 : keep);
}

/** x̂ = (x − mean)/sqrt(var + eps) of the row at `r` into `out`; returns 1/sqrt(var + eps). */
function normalizeRow(xs: Float32Array, r: number, H: number, eps: number, out: Float64Array): number {
  let mean = 0;
  for (let j = 0; j < H; j++) mean += xs[r + j];
  mean /= H;
  let variance = 0;
  for (let j = 0; j < H; j++) variance += (xs[r + j] - mean) ** 2;
  const rstd = 1 / Math.sqrt(variance / H + eps);
  for (let j = 0; j < H; j++) out[j] = (xs[r + j] - mean) * rstd;
  return rstd;
}

type KernelFn = (inputs: Record<string, Info>, attrs: any, heap: Heap) => Info | Info[];

/** The kernels in JavaScript (the cpu backend's). */
const JS_KERNELS: Record<string, KernelFn> = {
  DprepGelu({ x }, _attrs, heap) {
    const xs = heap.read(x);
    const { infos, views } = heap.alloc([x.shape]);
    const y = views[0];
    for (let i = 0; i < xs.length; i++) y[i] = 0.5 * xs[i] * (1 + erf(xs[i] * INV_SQRT2));
    return infos[0];
  },
  DprepGeluGrad({ dy, x }, _attrs, heap) {
    const { infos, views } = heap.alloc([x.shape]);
    const [g, xs] = [heap.read(dy), heap.read(x)];
    const dx = views[0];
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i];
      dx[i] = g[i] * (0.5 * (1 + erf(v * INV_SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    }
    return infos[0];
  },
  DprepLayerNorm({ x, gamma, beta }, { eps }, heap) {
    const H = x.shape[x.shape.length - 1];
    const { infos, views } = heap.alloc([x.shape]);
    const [xs, g, b, y] = [heap.read(x), heap.read(gamma), heap.read(beta), views[0]];
    const xhat = new Float64Array(H);
    for (let r = 0; r < xs.length; r += H) {
      normalizeRow(xs, r, H, eps, xhat);
      for (let j = 0; j < H; j++) y[r + j] = xhat[j] * g[j] + b[j];
    }
    return infos[0];
  },
  /** LayerNorm's three gradients in one pass: [dx, dgamma, dbeta]. */
  DprepLayerNormGrad({ dy, x, gamma }, { eps }, heap) {
    const H = x.shape[x.shape.length - 1];
    const { infos, views } = heap.alloc([x.shape, [H], [H]]);
    const [d, xs, g] = [heap.read(dy), heap.read(x), heap.read(gamma)];
    const [dx, dgOut, dbOut] = views;
    const xhat = new Float64Array(H);
    const dg = new Float64Array(H);
    const db = new Float64Array(H);
    for (let r = 0; r < xs.length; r += H) {
      const rstd = normalizeRow(xs, r, H, eps, xhat);
      let m1 = 0;
      let m2 = 0;
      for (let j = 0; j < H; j++) {
        const dxh = d[r + j] * g[j];
        m1 += dxh;
        m2 += dxh * xhat[j];
        dg[j] += d[r + j] * xhat[j];
        db[j] += d[r + j];
      }
      m1 /= H;
      m2 /= H;
      for (let j = 0; j < H; j++) dx[r + j] = rstd * (d[r + j] * g[j] - m1 - xhat[j] * m2);
    }
    dgOut.set(dg);
    dbOut.set(db);
    return infos;
  },
  /** softmax(scores·scale) over the last axis, keys where mask[b, key] = 0 getting weight 0. */
  DprepMaskedSoftmax({ scores, mask }, { scale }, heap) {
    const L = scores.shape[scores.shape.length - 1];
    const B = mask.shape[0];
    const { infos, views } = heap.alloc([scores.shape]);
    const [s, m, p] = [heap.read(scores), heap.read(mask), views[0]];
    const rowsPerSequence = s.length / (B * L);
    const e = new Float64Array(L);
    for (let r = 0; r < s.length; r += L) {
      const mo = Math.floor(r / L / rowsPerSequence) * L;
      let max = -Infinity;
      for (let j = 0; j < L; j++) if (m[mo + j] !== 0) max = Math.max(max, s[r + j] * scale);
      if (max === -Infinity) {
        p.fill(1 / L, r, r + L); // no key at all: uniform, as a large negative additive mask gives
        continue;
      }
      let sum = 0;
      for (let j = 0; j < L; j++) sum += e[j] = m[mo + j] !== 0 ? Math.exp(s[r + j] * scale - max) : 0;
      for (let j = 0; j < L; j++) p[r + j] = e[j] / sum;
    }
    return infos[0];
  },
  DprepMaskedSoftmaxGrad({ dp, probs }, { scale }, heap) {
    const L = probs.shape[probs.shape.length - 1];
    const { infos, views } = heap.alloc([probs.shape]);
    const [d, p, ds] = [heap.read(dp), heap.read(probs), views[0]];
    for (let r = 0; r < p.length; r += L) {
      let dot = 0;
      for (let j = 0; j < L; j++) dot += d[r + j] * p[r + j];
      for (let j = 0; j < L; j++) ds[r + j] = scale * p[r + j] * (d[r + j] - dot);
    }
    return infos[0];
  },
  DprepDropout({ x }, { rate, seed }, heap) {
    const { infos, views } = heap.alloc([x.shape]);
    const [xs, y] = [heap.read(x), views[0]];
    forEachKeep(xs.length, rate, seed, (i, k) => (y[i] = xs[i] * k));
    return infos[0];
  },
};

/** The kernels on dprep's native addon (used on wasm, in place on its heap). */
function nativeKernels(k: NativeKernels): Record<string, KernelFn> {
  const H = (t: Info) => t.shape[t.shape.length - 1];
  const one = (shape: number[], heap: Heap, f: (out: Float32Array) => void) => {
    const { infos, views } = heap.alloc([shape]);
    f(views[0]);
    return infos[0];
  };
  return {
    DprepGelu: ({ x }, _a, heap) => one(x.shape, heap, (y) => k.geluForward(heap.read(x), y)),
    DprepGeluGrad: ({ dy, x }, _a, heap) => one(x.shape, heap, (dx) => k.geluBackward(heap.read(dy), heap.read(x), dx)),
    DprepLayerNorm: ({ x, gamma, beta }, { eps }, heap) => one(x.shape, heap, (y) => k.layerNormForward(heap.read(x), heap.read(gamma), heap.read(beta), y, H(x), eps)),
    DprepLayerNormGrad: ({ dy, x, gamma }, { eps }, heap) => {
      const { infos, views } = heap.alloc([x.shape, [H(x)], [H(x)]]);
      k.layerNormBackward(heap.read(dy), heap.read(x), heap.read(gamma), views[0], views[1], views[2], H(x), eps);
      return infos;
    },
    DprepMaskedSoftmax: ({ scores, mask }, { scale }, heap) =>
      one(scores.shape, heap, (p) => {
        const s = heap.read(scores);
        const m = heap.read(mask);
        k.maskedSoftmaxForward(s, m, p, H(scores), s.length / m.length, scale);
      }),
    DprepMaskedSoftmaxGrad: ({ dp, probs }, { scale }, heap) => one(probs.shape, heap, (ds) => k.maskedSoftmaxBackward(heap.read(dp), heap.read(probs), ds, H(probs), scale)),
    DprepDropout: ({ x }, { rate, seed }, heap) => one(x.shape, heap, (y) => k.dropout(heap.read(x), y, rate, seed)),
    // Attention on [tokens, hidden] matrices, each head's columns read in place (no head transposes).
    DprepAttnScores: ({ q, k: key }, { batch, heads }, heap) => {
      const { L, H, dh } = attnDims(q, batch, heads);
      return one([batch, heads, L, L], heap, (s) => k.sgemmHeads(heap.read(q), heap.read(key), s, [batch, heads, L, L, dh, H, H, L, L * H, dh, L * H, dh, heads * L * L, L * L], false, true));
    },
    DprepAttnScoresGrad: ({ dy, q, k: key }, { batch, heads }, heap) => {
      const { L, H, dh } = attnDims(q, batch, heads);
      const { infos, views } = heap.alloc([q.shape, key.shape]);
      const [d, qs, ks] = [heap.read(dy), heap.read(q), heap.read(key)];
      const dims = [batch, heads, L, dh, L, L, H, H, heads * L * L, L * L, L * H, dh, L * H, dh];
      k.sgemmHeads(d, ks, views[0], dims, false, false); // dQ = dS · K
      k.sgemmHeads(d, qs, views[1], dims, true, false); // dK = dSᵀ · Q
      return infos;
    },
    DprepAttnContext: ({ probs, v }, { heads }, heap) => {
      const batch = probs.shape[0];
      const { L, H, dh } = attnDims(v, batch, heads);
      return one(v.shape, heap, (c) => k.sgemmHeads(heap.read(probs), heap.read(v), c, [batch, heads, L, dh, L, L, H, H, heads * L * L, L * L, L * H, dh, L * H, dh], false, false));
    },
    DprepAttnContextGrad: ({ dy, probs, v }, { heads }, heap) => {
      const batch = probs.shape[0];
      const { L, H, dh } = attnDims(v, batch, heads);
      const { infos, views } = heap.alloc([probs.shape, v.shape]);
      const [d, ps, vs] = [heap.read(dy), heap.read(probs), heap.read(v)];
      k.sgemmHeads(d, vs, views[0], [batch, heads, L, L, dh, H, H, L, L * H, dh, L * H, dh, heads * L * L, L * L], false, true); // dP = dC · Vᵀ
      k.sgemmHeads(ps, d, views[1], [batch, heads, L, dh, L, L, H, H, heads * L * L, L * L, L * H, dh, L * H, dh], true, false); // dV = Pᵀ · dC
      return infos;
    },
  };
}

/** Sequence length, hidden size and head size of a `[batch·L, hidden]` attention operand. */
function attnDims(t: Info, batch: number, heads: number): { L: number; H: number; dh: number } {
  const [T, H] = t.shape;
  if (t.shape.length !== 2 || T % batch !== 0 || H % heads !== 0) throw new Error(`attention: [${t.shape}] is not [batch·L, heads·dh] for batch ${batch}, ${heads} heads`);
  return { L: T / batch, H, dh: H / heads };
}

let gradientsRegistered = false;

/**
 * Registers the fused kernels on `backendName` and their gradients (once): on wasm the native
 * ones (only when the addon is there: element-wise loops in JavaScript are slower than tfjs's op
 * chains on wasm), on cpu the JavaScript ones.
 */
export function registerFusedKernels(tf: TF, backendName: 'wasm' | 'cpu', native?: NativeKernels): void {
  const impl = backendName === 'wasm' ? (native ? nativeKernels(native) : undefined) : JS_KERNELS;
  if (!impl) return;
  for (const [kernelName, fn] of Object.entries(impl)) {
    if (tf.getKernel(kernelName, backendName)) continue;
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ({ inputs, attrs, backend }) => {
        for (const t of Object.values(inputs as Record<string, Info>)) {
          if (t.dtype !== 'float32') throw new Error(`${kernelName}: float32 inputs only, got ${t.dtype}`);
        }
        return fn(inputs as unknown as Record<string, Info>, attrs, heapOf(backendName, backend)) as any;
      },
    });
  }
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  const run = (name: string, inputs: Record<string, Tensor>, attrs: Record<string, unknown> = {}) => tf.engine().runKernel(name, inputs as any, attrs as any);
  tf.registerGradient({
    kernelName: 'DprepGelu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => run('DprepGeluGrad', { dy: dy as Tensor, x: saved[0] }) as Tensor }),
  });
  tf.registerGradient({
    kernelName: 'DprepLayerNorm',
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy, saved, attrs) => {
      // All three in one pass, computed here rather than in the per-input closures: tfjs runs each
      // closure in its own scope, which would dispose outputs another closure still needs. These
      // live in the backward pass's scope until it ends.
      const [dx, dgamma, dbeta] = run('DprepLayerNormGrad', { dy: dy as Tensor, x: saved[0], gamma: saved[1] }, { eps: (attrs as { eps: number }).eps }) as Tensor[];
      return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
    },
  });
  tf.registerGradient({
    kernelName: 'DprepMaskedSoftmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => ({
      scores: () => run('DprepMaskedSoftmaxGrad', { dp: dy as Tensor, probs: saved[0] }, { scale: (attrs as { scale: number }).scale }) as Tensor,
      mask: () => tf.zerosLike(saved[0]), // never asked for: the mask is data, not a parameter
    }),
  });
  tf.registerGradient({
    kernelName: 'DprepAttnScores',
    inputsToSave: ['q', 'k'],
    gradFunc: (dy, saved, attrs) => {
      const [dq, dk] = run('DprepAttnScoresGrad', { dy: dy as Tensor, q: saved[0], k: saved[1] }, attrs as Record<string, unknown>) as Tensor[];
      return { q: () => dq, k: () => dk };
    },
  });
  tf.registerGradient({
    kernelName: 'DprepAttnContext',
    inputsToSave: ['probs', 'v'],
    gradFunc: (dy, saved, attrs) => {
      const [dprobs, dv] = run('DprepAttnContextGrad', { dy: dy as Tensor, probs: saved[0], v: saved[1] }, attrs as Record<string, unknown>) as Tensor[];
      return { probs: () => dprobs, v: () => dv };
    },
  });
  tf.registerGradient({
    kernelName: 'DprepDropout',
    gradFunc: (dy, _saved, attrs) => ({ x: () => run('DprepDropout', { x: dy as Tensor }, attrs as Record<string, unknown>) as Tensor }),
  });
}

export interface FusedOps {
  /** Exact (erf) GELU. */
  gelu(x: Tensor): Tensor;
  /** LayerNorm over the last axis (biased variance, as PyTorch). */
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor;
  /** softmax(scores·scale) over the last axis of `[B, heads, L, L]`, padding keys (mask `[B, L]` = 0) excluded. */
  maskedSoftmax(scores: Tensor, mask: Tensor, scale: number): Tensor;
  /** Inverted dropout with the mask drawn from `seed`. */
  dropout(x: Tensor, rate: number, seed: number): Tensor;
  /** Per-head scores `[batch, heads, L, L]` = Q_h·K_hᵀ of `[batch·L, hidden]` queries and keys. */
  attentionScores(q: Tensor, k: Tensor, batch: number, heads: number): Tensor;
  /** Per-head P_h·V_h of probabilities `[batch, heads, L, L]` and values `[batch·L, hidden]`, as `[batch·L, hidden]`. */
  attentionContext(probs: Tensor, v: Tensor, heads: number): Tensor;
  /** Whether these run as fused kernels (else as tfjs op chains). */
  fused: boolean;
}

/**
 * The fused ops when the current backend has the kernels, else op chains computing the same
 * (same dropout masks). Call inside tf.tidy, like any op.
 */
export function fusedOps(tf: TF): FusedOps {
  if (tf.getKernel('DprepGelu', tf.getBackend())) {
    const run = (name: string, inputs: Record<string, Tensor>, attrs: Record<string, unknown> = {}) => tf.engine().runKernel(name, inputs as any, attrs as any) as Tensor;
    return {
      fused: true,
      gelu: (x) => run('DprepGelu', { x }),
      layerNorm: (x, gamma, beta, eps) => run('DprepLayerNorm', { x, gamma, beta }, { eps }),
      maskedSoftmax: (scores, mask, scale) => run('DprepMaskedSoftmax', { scores, mask }, { scale }),
      dropout: (x, rate, seed) => run('DprepDropout', { x }, { rate, seed }),
      ...(tf.getKernel('DprepAttnScores', tf.getBackend()) ? { attentionScores: (q, k, batch, heads) => run('DprepAttnScores', { q, k }, { batch, heads }), attentionContext: (probs, v, heads) => run('DprepAttnContext', { probs, v }, { heads }) } : chainAttention(tf)),
    };
  }
  return {
    fused: false,
    gelu: (x) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, INV_SQRT2)), 1)),
    layerNorm(x, gamma, beta, eps) {
      const mean = tf.mean(x, -1, true);
      const centered = tf.sub(x, mean);
      const variance = tf.mean(tf.square(centered), -1, true);
      return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
    },
    maskedSoftmax(scores, mask, scale) {
      const [B, L] = mask.shape;
      const additive = tf.mul(tf.sub(1, tf.reshape(mask, [B, 1, 1, L])), -1e9);
      return tf.softmax(tf.add(tf.mul(scores, scale), additive), -1);
    },
    dropout(x, rate, seed) {
      const mask = new Float32Array(x.size);
      forEachKeep(mask.length, rate, seed, (i, k) => (mask[i] = k));
      return tf.mul(x, tf.tensor(mask, x.shape, 'float32'));
    },
    ...chainAttention(tf),
  };
}

/** Attention through head transposes and batched products (backends without dprep's kernels). */
function chainAttention(tf: TF): Pick<FusedOps, 'attentionScores' | 'attentionContext'> {
  const split = (t: Tensor, batch: number, heads: number) => {
    const [T, H] = t.shape;
    return tf.transpose(tf.reshape(t, [batch, T / batch, heads, H / heads]), [0, 2, 1, 3]); // [batch, heads, L, dh]
  };
  return {
    attentionScores: (q, k, batch, heads) => tf.matMul(split(q, batch, heads), split(k, batch, heads), false, true),
    attentionContext(probs, v, heads) {
      const batch = probs.shape[0];
      const context = tf.matMul(probs, split(v, batch, heads)); // [batch, heads, L, dh]
      return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), v.shape);
    },
  };
}
