/**
 * dprep's optional native kernels (native/dprep_native.c, built by scripts/build-native.sh):
 * batched sgemm through the system's OpenBLAS on Float32Arrays, including views of tfjs's wasm
 * heap. Found at run time in build/native/ or at DPREP_NATIVE=<path>; DPREP_NATIVE=0 turns them off.
 * Without them the trainer uses tfjs's own kernels (XNNPACK on wasm).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

export interface NativeKernels {
  /**
   * For i < batch: C_i = op(A_i)·op(B_i) (+ bias over rows); row-major; A_i at a[i·strideA] etc.,
   * a stride of 0 reuses one matrix.
   */
  sgemm(
    a: Float32Array, b: Float32Array, c: Float32Array, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, strideC: number, bias?: Float32Array,
  ): void;
  /** One AdamW update in place, as AdamW.apply's JavaScript loop computes it (same bits). */
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, b1: number, oneMinusB1: number, b2: number, oneMinusB2: number, eps: number, shrink: number, stepSize: number, sqrtC2: number, gradScale?: number): void;
  /** `start` + the chunked Σ g[i]² of optimizer.ts's clipFactor, in double precision. */
  sumSquares(g: Float32Array, start: number): number;
  /** g[i] *= factor. */
  scale(g: Float32Array, factor: number): void;
  /** a[i] += b[i]. */
  addInto(a: Float32Array, b: Float32Array): void;
  /** Fused BERT element-wise kernels (src/trainer/fused.ts); outputs are the last arrays. */
  geluForward(x: Float32Array, y: Float32Array): void;
  geluBackward(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  layerNormForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, hidden: number, eps: number): void;
  /** Empty output arrays are skipped. */
  layerNormBackward(dy: Float32Array, x: Float32Array, gamma: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, hidden: number, eps: number): void;
  maskedSoftmaxForward(scores: Float32Array, mask: Float32Array, probs: Float32Array, keys: number, rowsPerSequence: number, scale: number): void;
  maskedSoftmaxBackward(dp: Float32Array, probs: Float32Array, ds: Float32Array, keys: number, scale: number): void;
  /** y = x · (0 with probability rate, else 1/(1 − rate)), element i drawing mulberry32(seed)'s (i+1)-th number. */
  dropout(x: Float32Array, y: Float32Array, rate: number, seed: number): void;
  /** Threads of the AdamW / scale / add loops (element-wise: any count gives the same bits). */
  setElementwiseThreads(n: number): number;
  /**
   * For each (i, h) < (dims[0], dims[1]): C_ih = op(A_ih)·op(B_ih) with dims = [batch, heads, M, N, K,
   * lda, ldb, ldc, aBatch, aHead, bBatch, bHead, cBatch, cHead], X_ih at x[i·xBatch + h·xHead].
   */
  sgemmHeads(a: Float32Array, b: Float32Array, c: Float32Array, dims: number[], transA: boolean, transB: boolean): void;
  /** out = 0, then row i of x added into row ids[i] of out (ids outside the table dropped). */
  scatterAddRows(x: Float32Array, ids: Int32Array, out: Float32Array, rowSize: number): void;
  /**
   * Row i of out (`rowSize` floats) = table1[ids1[i]] + table2[ids2[i]] + …, added left to right in
   * float32 (1 to 3 tables); an id outside its table is a RangeError. Optional: older builds lack it.
   */
  gatherAddRows?(out: Float32Array, rowSize: number, ...tablesAndIds: (Float32Array | Int32Array)[]): void;
  /** Sets OpenBLAS's threads per call (process-wide); returns the count in effect. */
  setThreads(n: number): number;
  blasConfig(): string;
}

export const BUILT_NATIVE = fileURLToPath(new URL('../../build/native/dprep_native.node', import.meta.url));

let cached: { kernels: NativeKernels; source: string } | null | undefined;
/** Why the native kernels did not load, when a build was there. */
export let nativeLoadError: string | undefined;

/**
 * The native kernels and where they came from, or undefined.
 * @example const native = loadNative(); if (native) native.kernels.setThreads(1);
 */
export function loadNative(): { kernels: NativeKernels; source: string } | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const env = process.env.DPREP_NATIVE?.trim();
  if (env === '0') return (cached = null) ?? undefined;
  const path = env || BUILT_NATIVE;
  if (!existsSync(path)) {
    if (env) nativeLoadError = `DPREP_NATIVE=${env}: no such file`;
    return (cached = null) ?? undefined;
  }
  try {
    const kernels = createRequire(import.meta.url)(path) as NativeKernels;
    kernels.setElementwiseThreads?.(Math.min(availableParallelism(), 8));
    cached = { kernels, source: path };
  } catch (err) {
    nativeLoadError = `${path}: ${(err as Error).message.split('\n')[0]}`;
    cached = null;
  }
  return cached ?? undefined;
}
