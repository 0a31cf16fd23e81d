/**
 * Reading kernel inputs and allocating float32 outputs on the wasm and cpu backends, for dprep's
 * kernels written in JS or C (src/trainer/kernels.ts, src/trainer/fused.ts). On wasm the arrays
 * are views of the backend's heap: they are taken after every allocation, since growing the heap
 * detaches views taken before.
 */
export interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: string;
}

export interface Heap {
  /** The values of a float32 input (a view on wasm; the tensor's own array on cpu: do not write). */
  read(t: TensorInfoLike): Float32Array;
  /** The values of an input of any numeric dtype (int32 ids: an Int32Array). */
  readAny(t: TensorInfoLike): Float32Array | Int32Array;
  /** Allocates float32 outputs, then returns views of all of them (not zeroed on wasm). */
  alloc(shapes: number[][]): { infos: TensorInfoLike[]; views: Float32Array[] };
}

export function heapOf(backendName: string, backend: any): Heap {
  return backendName === 'wasm'
    ? {
        read: (t) => backend.typedArrayFromHeap(t),
        readAny: (t) => backend.typedArrayFromHeap(t),
        alloc(shapes) {
          const infos = shapes.map((s) => backend.makeOutput(s, 'float32') as TensorInfoLike);
          return { infos, views: infos.map((i) => backend.typedArrayFromHeap(i) as Float32Array) };
        },
      }
    : {
        read: (t) => backend.data.get(t.dataId).values,
        readAny: (t) => backend.data.get(t.dataId).values,
        alloc(shapes) {
          const views = shapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1)));
          return { infos: views.map((v, i) => backend.makeTensorInfo(shapes[i], 'float32', v) as TensorInfoLike), views };
        },
      };
}
