/**
 * AdamW as PyTorch computes it (decoupled weight decay, bias-corrected moments), the linear
 * warmup/decay schedule of HF's get_linear_schedule_with_warmup, and global-norm gradient clipping.
 *
 * Moments and the update live in JS Float32Arrays, not in tfjs tensors: the wasm backend keeps every
 * tensor in one 4 GB heap, and two BERT-base encoders' weights + grads + two moments would fill it.
 * A plain loop is also bit-for-bit deterministic, which `--resume` relies on. When dprep's native
 * kernels are built (src/trainer/native.ts) the same loops run there, operation for operation, so
 * the bits do not depend on whether they are (tested in test/trainer/native.test.ts).
 */
import type { NamedTensor } from './safetensors.ts';
import { loadNative } from './native.ts';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/**
 * Multiplier of the base learning rate at optimizer step `step` (0-based), as HF's LambdaLR:
 * step/warmup while warming up, then linear decay to 0 at `total`.
 * @example linearSchedule(0, 10, 100) // 0 — the first update of a warmed-up run has lr 0, like HF
 */
export function linearSchedule(step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (total - step) / Math.max(1, total - warmup));
}

/** DPR / HF exclude biases and LayerNorm weights from weight decay. */
export const decays = (name: string) => !name.endsWith('.bias') && !name.includes('LayerNorm');

export class AdamW {
  /** Updates done so far (bias correction uses step + 1). */
  step = 0;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();

  /** Native loops (same results), unless `useNative` is false or they are not built. */
  private readonly native;

  constructor(
    readonly opts: AdamWOptions,
    useNative = true,
  ) {
    this.native = useNative ? loadNative()?.kernels : undefined;
  }

  /**
   * One update of `params` (in place) from `grads` times `gradScale` (the clipping factor: each
   * gradient is scaled and rounded to float32 first, exactly as clipping in place would), with
   * learning rate `lr`.
   * @example opt.apply(params, grads, 2e-5 * linearSchedule(opt.step, warmup, total));
   */
  apply(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number, gradScale = 1): void {
    const b1 = this.opts.beta1 ?? 0.9;
    const b2 = this.opts.beta2 ?? 0.999;
    const eps = this.opts.eps ?? 1e-8;
    const wd = this.opts.weightDecay ?? 0;
    const t = this.step + 1;
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    const stepSize = lr / c1;
    const sqrtC2 = Math.sqrt(c2);
    for (const [name, g] of grads) {
      const p = params.get(name);
      if (!p) throw new Error(`AdamW: no parameter ${name}`);
      let m = this.m.get(name);
      let v = this.v.get(name);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.m.set(name, m);
        this.v.set(name, v);
      }
      const shrink = wd > 0 && decays(name) ? 1 - lr * wd : 1;
      if (this.native) {
        this.native.adamw(p, g, m, v, b1, 1 - b1, b2, 1 - b2, eps, shrink, stepSize, sqrtC2, gradScale);
        continue;
      }
      for (let i = 0; i < p.length; i++) {
        const gi = gradScale === 1 ? g[i] : Math.fround(g[i] * gradScale);
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        // PyTorch's form: p -= lr/c1 · m / (sqrt(v)/sqrt(c2) + eps)
        p[i] = p[i] * shrink - (stepSize * mi) / (Math.sqrt(vi) / sqrtC2 + eps);
      }
    }
    this.step++;
  }

  /** Moments as named tensors (`m/<name>`, `v/<name>`) for the resume state. */
  stateTensors(): Map<string, NamedTensor> {
    const out = new Map<string, NamedTensor>();
    for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, data] of map) out.set(`${kind}/${name}`, { shape: [data.length], data });
    }
    return out;
  }

  /** Restores moments saved by `stateTensors` and the step count. */
  loadState(tensors: Map<string, NamedTensor>, step: number): void {
    for (const [key, t] of tensors) {
      const slash = key.indexOf('/');
      (key.slice(0, slash) === 'm' ? this.m : this.v).set(key.slice(slash + 1), Float32Array.from(t.data));
    }
    this.step = step;
  }
}

/** Elements per partial sum of squares: partial sums are added in order, so the native loops can compute them in parallel and still give the same bits. */
export const SUM_CHUNK = 65536;

/**
 * Global L2 norm of `grads` and the factor that clips it to `maxNorm` (PyTorch clip_grad_norm_:
 * maxNorm / (norm + 1e-6) when above, else 1). Squares are summed in double, in chunks of
 * SUM_CHUNK elements whose partial sums are added in order; within a chunk, element i goes to
 * accumulator i mod 8, and the 8 are combined pairwise (independent chains for the native loop).
 * @example const { norm, factor } = clipFactor(grads, 2.0); opt.apply(params, grads, lr, factor);
 */
export function clipFactor(grads: Map<string, Float32Array>, maxNorm: number, useNative = true): { norm: number; factor: number } {
  const native = useNative ? loadNative()?.kernels : undefined;
  let sq = 0;
  for (const g of grads.values()) {
    if (native) sq = native.sumSquares(g, sq);
    else {
      for (let c = 0; c < g.length; c += SUM_CHUNK) {
        // element i goes to accumulator (i − c) mod 8, each summed in order, then combined pairwise
        const a = new Float64Array(8);
        const end = Math.min(c + SUM_CHUNK, g.length);
        for (let i = c; i < end; i++) a[(i - c) & 7] += g[i] * g[i];
        sq += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
      }
    }
  }
  const norm = Math.sqrt(sq);
  return { norm, factor: maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1 };
}

/**
 * Scales grads in place so their global L2 norm is at most `maxNorm` (see clipFactor).
 * Returns the norm before clipping.
 * @example const norm = clipByGlobalNorm(grads, 2.0);
 */
export function clipByGlobalNorm(grads: Map<string, Float32Array>, maxNorm: number, useNative = true): number {
  const native = useNative ? loadNative()?.kernels : undefined;
  const { norm, factor } = clipFactor(grads, maxNorm, useNative);
  if (factor !== 1) {
    for (const g of grads.values()) {
      if (native) native.scale(g, factor);
      else for (let i = 0; i < g.length; i++) g[i] *= factor;
    }
  }
  return norm;
}
