/**
 * Kernels dprep registers on tfjs backends so that training is fast there.
 *
 * UnsortedSegmentSum in plain JS for the wasm and cpu backends. It is the gradient of gather,
 * i.e. the embedding-table gradient: a scatter-add of `[n, ...]` rows into `[numSegments, ...]`.
 * wasm has no such kernel; cpu has one built from per-segment ops that took 104 s for an
 * 8000x128 table here. A single pass over the rows is O(n · rowSize).
 */
import type { TF } from './tf-types.ts';
import type { NativeKernels } from './native.ts';
import { heapOf, type TensorInfoLike } from './heap.ts';

/**
 * Adds row i of `x` (flattened after the segment-id dims) into row `segmentIds[i]` of the output.
 * Ids outside [0, numSegments) are dropped, as TensorFlow does.
 * @example scatterAddRows(new Float32Array([1,2,3,4]), new Int32Array([1,1]), 2, out) // out = [0,0,4,6]
 */
export function scatterAddRows(x: ArrayLike<number>, ids: ArrayLike<number>, rowSize: number, out: Float32Array): void {
  const numSegments = out.length / rowSize;
  for (let i = 0; i < ids.length; i++) {
    const seg = ids[i];
    if (seg < 0 || seg >= numSegments) continue;
    const src = i * rowSize;
    const dst = seg * rowSize;
    for (let j = 0; j < rowSize; j++) out[dst + j] += x[src + j];
  }
}

/**
 * Registers UnsortedSegmentSum for `backendName`, replacing a built-in one: in JS, or with dprep's
 * native scatter-add on wasm when given (the same sums in the same order).
 */
export function registerSegmentSumKernels(tf: TF, backendName: 'wasm' | 'cpu', native?: NativeKernels): void {
  const existing = tf.getKernelsForBackend(backendName).some((k) => k.kernelName === 'UnsortedSegmentSum');
  if (existing) tf.unregisterKernel('UnsortedSegmentSum', backendName);
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as unknown as { x: TensorInfoLike; segmentIds: TensorInfoLike };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      if (x.dtype !== 'float32') throw new Error(`UnsortedSegmentSum (dprep ${backendName} kernel): float32 only, got ${x.dtype}`);
      const rowShape = x.shape.slice(segmentIds.shape.length);
      const rowSize = rowShape.reduce((a, b) => a * b, 1);
      const heap = heapOf(backendName, backend);
      const { infos, views } = heap.alloc([[numSegments, ...rowShape]]);
      const [values, ids] = [heap.read(x), heap.readAny(segmentIds)];
      if (native && backendName === 'wasm' && ids instanceof Int32Array) native.scatterAddRows(values, ids, views[0], rowSize); // clears first
      else {
        views[0].fill(0);
        scatterAddRows(values, ids, rowSize, views[0]);
      }
      return infos[0] as any;
    },
  });
}

/** A kernel function as tfjs calls it. */
type KernelFn = (args: any) => TensorInfoLike;

/**
 * Replaces `kernelName` on wasm with `handle`, which returns its result or undefined to pass the call
 * to the kernel registered before (also given to it). `tag` marks the replacement so a second call
 * does not wrap it again; earlier tags are kept.
 */
function wrapWasmKernel(tf: TF, kernelName: string, tag: string, handle: (args: any, previous: KernelFn) => TensorInfoLike | undefined): void {
  const previous = tf.getKernel(kernelName, 'wasm') as (ReturnType<TF['getKernel']> & Record<string, unknown>) | undefined;
  if (!previous || previous[tag]) return;
  const fallback = previous.kernelFunc as KernelFn;
  const tags = Object.fromEntries(Object.entries(previous).filter(([k]) => k.startsWith('dprep')));
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    kernelName,
    backendName: 'wasm',
    setupFunc: previous.setupFunc,
    ...tags,
    [tag]: true,
    kernelFunc: (args: any) => (handle(args, fallback) ?? fallback(args)) as any,
  } as any);
}

/** The input itself as the output, its buffer's reference count raised (what cpu's Identity does). */
function shareInput(args: any): TensorInfoLike {
  const { x } = args.inputs as { x: TensorInfoLike };
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * BatchMatMul for wasm that always reaches XNNPACK. tfjs-wasm's kernel uses XNNPACK only for a
 * single untransposed matrix pair and otherwise runs a naive blocked loop (~1 GFLOP/s here, vs ~20);
 * backprop asks for transposed operands (dW = xᵀ·dy, dx = dy·Wᵀ) and attention is batched.
 * This wrapper transposes operands explicitly (a cheap memory pass), folds a shared right-hand
 * matrix into one tall product, and runs other batches one matrix pair at a time.
 */
export function registerWasmMatMul(tf: TF): void {
  const transposeKernel = tf.getKernel('Transpose', 'wasm');
  if (!transposeKernel) return;
  const transpose = transposeKernel.kernelFunc as KernelFn;
  wrapWasmKernel(tf, 'BatchMatMul', 'dprepXnnpack', ({ inputs, backend, attrs }: { inputs: any; backend: any; attrs: any }, fast) => {
    const wasm = backend as any;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    let { a, b } = inputs as unknown as { a: TensorInfoLike; b: TensorInfoLike };
    const temps: TensorInfoLike[] = [];
    const swapLast = (t: TensorInfoLike) => {
      const perm = t.shape.map((_, i) => i);
      perm[perm.length - 1] = perm.length - 2;
      perm[perm.length - 2] = perm.length - 1;
      const out = transpose({ inputs: { x: t }, backend, attrs: { perm } });
      temps.push(out);
      return out;
    };
    if (transposeA) a = swapLast(a);
    if (transposeB) b = swapLast(b);
    const M = a.shape[a.shape.length - 2];
    const K = a.shape[a.shape.length - 1];
    const N = b.shape[b.shape.length - 1];
    const outer = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
    const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batch = Math.max(batchA, batchB);
    const plain = { transposeA: false, transposeB: false };
    let out: TensorInfoLike;
    if (batchB === 1) {
      // One weight matrix for every row block: a single [batch·M, K] × [K, N] product.
      out = fast({ inputs: { a: { ...a, shape: [1, batchA * M, K] }, b: { ...b, shape: [1, K, N] } }, backend, attrs: plain });
    } else {
      out = wasm.makeOutput([batch, M, N], 'float32');
      const slice = (t: TensorInfoLike, i: number, rows: number, cols: number) => {
        const part = wasm.makeOutput([1, rows, cols], 'float32');
        const size = rows * cols;
        wasm.typedArrayFromHeap(part).set(wasm.typedArrayFromHeap(t).subarray(i * size, (i + 1) * size));
        return part;
      };
      for (let i = 0; i < batch; i++) {
        const ai = slice(a, batchA === 1 ? 0 : i, M, K);
        const bi = slice(b, i, K, N);
        const oi = fast({ inputs: { a: ai, b: bi }, backend, attrs: plain });
        // Views are taken after every allocation: a heap grow detaches older ones.
        wasm.typedArrayFromHeap(out).set(wasm.typedArrayFromHeap(oi), i * M * N);
        for (const t of [ai, bi, oi]) wasm.disposeData(t.dataId);
      }
    }
    for (const t of temps) wasm.disposeData(t.dataId);
    return { ...out, shape: [...outer, M, N] };
  });
}

/**
 * BatchMatMul and the bias-only _FusedMatMul for wasm on dprep's native OpenBLAS sgemm (see
 * src/trainer/native.ts): operands are read in place from the wasm heap, transposes are BLAS
 * flags (no copies), and a batch is one call. Other cases (int32, activations, broadcast batch
 * shapes other than 1) go to the kernels registered before. Call after registerWasmMatMul.
 */
export function registerWasmNativeMatMul(tf: TF, native: NativeKernels): void {

  /** Runs op(a)·op(b) (+ bias) natively, or returns undefined when the case is not handled. */
  const run = (backend: any, a: TensorInfoLike, b: TensorInfoLike, transposeA: boolean, transposeB: boolean, bias?: TensorInfoLike): TensorInfoLike | undefined => {
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (K !== Kb) return undefined; // let tfjs raise its own shape error
    const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
    if (bias && (bias.dtype !== 'float32' || bias.shape.reduce((x, y) => x * y, 1) !== N)) return undefined;
    const batch = Math.max(batchA, batchB);
    const outer = ra >= rb ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
    const out = backend.makeOutput([...outer, M, N], 'float32') as TensorInfoLike;
    // Views after the allocation: a heap grow detaches views taken before it.
    const av = backend.typedArrayFromHeap(a) as Float32Array;
    const bv = backend.typedArrayFromHeap(b) as Float32Array;
    const ov = backend.typedArrayFromHeap(out) as Float32Array;
    const biasView = bias ? (backend.typedArrayFromHeap(bias) as Float32Array) : undefined;
    if (batchB === 1 && !transposeA) native.sgemm(av, bv, ov, 1, batchA * M, N, K, false, transposeB, 0, 0, 0, biasView);
    else native.sgemm(av, bv, ov, batch, M, N, K, transposeA, transposeB, batchA === 1 ? 0 : M * K, batchB === 1 ? 0 : K * N, M * N, biasView);
    return out;
  };

  wrapWasmKernel(tf, 'BatchMatMul', 'dprepNative', (args) => run(args.backend, args.inputs.a, args.inputs.b, !!args.attrs.transposeA, !!args.attrs.transposeB));
  wrapWasmKernel(tf, '_FusedMatMul', 'dprepNative', (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const { transposeA, transposeB, activation } = args.attrs;
    const plain = !preluActivationWeights && (activation === undefined || activation === 'linear');
    return plain ? run(args.backend, a, b, !!transposeA, !!transposeB, bias) : undefined;
  });
}

/**
 * Identity (tensor clone) for wasm that shares the input's memory, as the cpu backend's does.
 * tfjs clones every tensor it saves for backprop; wasm's own Identity copies the data, which cost
 * ~10% of a BERT-tiny training step (370 copies). Tensors are immutable and the wasm backend
 * reference-counts its buffers (Reshape shares them the same way), so sharing is safe.
 */
export function registerWasmSharedIdentity(tf: TF): void {
  wrapWasmKernel(tf, 'Identity', 'dprepShare', (args) => (args.inputs.x.dtype === 'string' ? undefined : shareInput(args)));
  // tfjs's gather gradient transposes the embedding-table gradient twice with perm [0, 1], a no-op:
  // two full-table copies per embedding per step, now shared too.
  wrapWasmKernel(tf, 'Transpose', 'dprepShare', (args) =>
    args.inputs.x.dtype !== 'string' && (args.attrs.perm as number[]).every((p, i) => p === i) ? shareInput(args) : undefined,
  );
}

/**
 * GatherV2 along axis 0 (embedding lookups) for wasm as whole-row copies; wasm's kernel walks
 * element by element. Other axes and batch dims go to tfjs's kernel.
 */
export function registerWasmRowGather(tf: TF): void {
  wrapWasmKernel(tf, 'GatherV2', 'dprepRows', (args) => {
    const { backend, inputs, attrs } = args;
    const { x, indices } = inputs as { x: TensorInfoLike; indices: TensorInfoLike };
    const axis = attrs.axis < 0 ? attrs.axis + x.shape.length : attrs.axis;
    if (axis !== 0 || (attrs.batchDims ?? 0) !== 0 || x.dtype !== 'float32' || x.shape.length < 1) return undefined;
    const rows = x.shape[0];
    const rowShape = x.shape.slice(1);
    const rowSize = rowShape.reduce((a, b) => a * b, 1);
    const out = backend.makeOutput([...indices.shape, ...rowShape], 'float32') as TensorInfoLike;
    // Views after the allocation: a heap grow detaches views taken before it.
    const ids = backend.typedArrayFromHeap(indices) as Int32Array;
    const src = backend.typedArrayFromHeap(x) as Float32Array;
    const dst = backend.typedArrayFromHeap(out) as Float32Array;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < rows)) {
        backend.disposeData(out.dataId);
        throw new Error(`GatherV2: the index value ${id} is not in [0, ${rows - 1}]`);
      }
      dst.set(src.subarray(id * rowSize, (id + 1) * rowSize), i * rowSize);
    }
    return out;
  });
}
