/**
 * UnsortedSegmentSum in plain JS for the wasm and cpu backends. It is the gradient of gather,
 * i.e. the embedding-table gradient: a scatter-add of `[n, ...]` rows into `[numSegments, ...]`.
 * wasm has no such kernel; cpu has one built from per-segment ops that took 104 s for an
 * 8000x128 table here. A single pass over the rows is O(n · rowSize).
 */
import type { TF } from './backend.ts';

interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: string;
}

type Values = Float32Array | Int32Array;

/** Backend-specific access to tensor values and output allocation. */
interface Access {
  read(backend: any, t: TensorInfoLike): Values;
  /** Allocates a zeroed float32 output and returns it with a writable view. */
  alloc(backend: any, shape: number[]): { info: TensorInfoLike; values: Float32Array };
}

const ACCESS: Record<'wasm' | 'cpu', Access> = {
  wasm: {
    read: (backend, t) => backend.typedArrayFromHeap(t),
    alloc(backend, shape) {
      const info = backend.makeOutput(shape, 'float32');
      const values = backend.typedArrayFromHeap(info) as Float32Array;
      values.fill(0);
      return { info, values };
    },
  },
  cpu: {
    read: (backend, t) => backend.data.get(t.dataId).values,
    alloc(backend, shape) {
      const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
      return { info: backend.makeTensorInfo(shape, 'float32', values), values };
    },
  },
};

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

/** Registers the JS UnsortedSegmentSum for `backendName`, replacing a built-in one. */
export function registerSegmentSumKernels(tf: TF, backendName: 'wasm' | 'cpu'): void {
  const access = ACCESS[backendName];
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
      // Allocate first: a wasm heap grow would detach views taken before it.
      const out = access.alloc(backend, [numSegments, ...rowShape]);
      scatterAddRows(access.read(backend, x), access.read(backend, segmentIds), rowSize, out.values);
      return out.info as any;
    },
  });
}
