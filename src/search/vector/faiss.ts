/**
 * Finds faiss-node at run time: the addon built from source by scripts/build-faiss-node.sh
 * (build/faiss-node/, takes Float32Array directly), a path in DPREP_FAISS_NODE, or an installed
 * `faiss-node` package (stock API: JS number arrays). None of them → undefined, and callers use
 * the exact JS search.
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The part of faiss-node's native index that dprep uses. */
export interface FaissNativeIndex {
  ntotal(): number;
  getDimension(): number;
  add(vectors: Float32Array | number[]): void;
  search(queries: Float32Array | number[], k: number): { distances: Float32Array | number[]; labels: Int32Array | number[] };
  /** Only in the addon built here: faiss ParameterSpace names such as `efSearch`. */
  setParam?(name: string, value: number): void;
  isTrained(): boolean;
  /** Takes a JS number array (n × dim), in every build. */
  train(vectors: number[]): void;
  /** Writes the index to a file (faiss's own format). */
  write(path: string): void;
}

export interface FaissAddon {
  IndexFlatIP: new (dim: number) => FaissNativeIndex;
  Index: { fromFactory(dim: number, description: string, metric: number): FaissNativeIndex; read(path: string): FaissNativeIndex };
  /** Only in the addon built here: OpenMP threads; returns the current maximum. */
  setThreads?(n?: number): number;
  /** True for the addon built here: add/search take and return typed arrays. */
  typedArrays?: boolean;
}

export const METRIC_INNER_PRODUCT = 0;

/** Where build-faiss-node.sh puts the addon. */
export const BUILT_ADDON = fileURLToPath(new URL('../../../build/faiss-node/build/Release/faiss_node.node', import.meta.url));

/** Why a candidate addon failed to load (shown when falling back to the exact search). */
export const loadErrors: string[] = [];

let cached: { addon: FaissAddon; source: string } | null | undefined;

/**
 * The faiss-node addon and where it came from, or undefined when none can be loaded.
 * @example const faiss = loadFaiss(); log(faiss ? `faiss from ${faiss.source}` : 'exact JS search');
 */
export function loadFaiss(): { addon: FaissAddon; source: string } | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const require = createRequire(import.meta.url);
  if (process.env.DPREP_NO_FAISS === '1') return (cached = null) ?? undefined;
  const candidates = [process.env.DPREP_FAISS_NODE, BUILT_ADDON].filter((p): p is string => Boolean(p));
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    try {
      cached = { addon: require(path) as FaissAddon, source: path };
      return cached;
    } catch (err) {
      // A broken build (e.g. libopenblas removed since) must not stop dprep: say so, use the next.
      loadErrors.push(`${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  try {
    cached = { addon: require('faiss-node') as FaissAddon, source: 'faiss-node (npm package)' };
  } catch {
    cached = null;
  }
  return cached ?? undefined;
}

let gc: (() => void) | undefined;

/**
 * Frees the native memory of faiss indexes that are no longer referenced. faiss-node frees an
 * index only when V8 collects its JS wrapper, and V8 does not count the native bytes, so without
 * this a loop that builds one index per shard keeps every shard's index alive (measured: +100 MB
 * per 100 MB shard, never freed). A full collection, then a turn of the event loop for the addon's
 * finalizers, returns them.
 */
export async function releaseNativeMemory(): Promise<void> {
  if (!gc) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) gc = exposed;
    else {
      // Node's --expose-gc, turned on for a fresh context only; the main context is unchanged.
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    }
  }
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  await new Promise((resolve) => setImmediate(resolve));
}
