/**
 * TensorFlow.js loading and backend choice for the trainer.
 *
 * - `tensorflow`: @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, when the user installed one
 *   (optional; detected with a dynamic import).
 * - `wasm`: the bundled XNNPACK build; single-threaded unless `DPREP_WASM_THREADS` asks for more
 *   (`2`, or `auto` = one per CPU), which starts tfjs's threaded build in Node (see `initThreadedWasm`).
 * - `cpu`: pure JS; slow, but always there.
 *
 * tfjs-core's Node bundle does not register gradients (the `@tensorflow/tfjs` union package does),
 * and its ESM gradient modules use extensionless imports that Node cannot resolve. A tiny resolve
 * hook adds the `.js` so `register_all_gradients.js` loads; gradients land in tfjs's global registry.
 */
import { register } from 'node:module';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import os from 'node:os';
import workerThreads from 'node:worker_threads';
import { registerSegmentSumKernels, registerWasmMatMul, registerWasmNativeMatMul, registerWasmRowGather, registerWasmSharedIdentity } from './kernels.ts';
import { loadNative } from './native.ts';
import { registerFusedKernels } from './fused.ts';

import type { BackendChoice, BackendName, TF } from './tf-types.ts';

export type { BackendChoice, BackendName, TF };

const RESOLVE_HOOK = `
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('.') && !specifier.endsWith('.js') && context.parentURL &&
      context.parentURL.includes('/@tensorflow/tfjs-core/dist/')) {
    const url = new URL(specifier + '.js', context.parentURL);
    if (existsSync(fileURLToPath(url))) return next(url.href, context);
  }
  return next(specifier, context);
}`;

let loaded: { tf: TF; backend: BackendName; threads: number } | undefined;

/**
 * Threads the wasm backend should use, from `DPREP_WASM_THREADS` (`auto` = one per CPU; at most 8,
 * tfjs's worker pool). Default 1: on a CPU shared with other jobs, XNNPACK's threads wait on each
 * other and small ops got slower (bench/BENCHMARKS.md, trainer section).
 * @example process.env.DPREP_WASM_THREADS = '2'; wasmThreadsWanted() // 2
 */
export function wasmThreadsWanted(): number {
  const env = process.env.DPREP_WASM_THREADS?.trim();
  const n = !env ? 1 : env === 'auto' ? os.cpus().length : Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`DPREP_WASM_THREADS must be a positive integer or "auto", got "${env}"`);
  return Math.min(n, 8);
}

/**
 * Makes tfjs-wasm's threaded XNNPACK build start in Node. tfjs turns it off there for three reasons,
 * each worked around here, before the backend initializes:
 * - the WASM_HAS_MULTITHREAD_SUPPORT flag answers false under Node: set it;
 * - Emscripten starts its pthread workers from a blob: URL, which Node's Worker rejects, and each
 *   worker then loads the main script from a Blob: Worker is wrapped so that a blob: URL starts the
 *   worker source as `eval` code, with the script import pointed at the package's own file;
 * - the backend caps threads at (logical cores / 2) read from os.cpus(): that count is raised for
 *   the moment the module initializes, so `setThreadsCount(n)` is honoured.
 * XNNPACK splits a GEMM by output tiles, each computed as in one thread: results do not depend on
 * the thread count (tested bit for bit in test/trainer/backend.test.ts).
 */
async function initThreadedWasm(tf: TF, wasm: typeof import('@tensorflow/tfjs-backend-wasm'), wasmDir: string, threads: number): Promise<boolean> {
  const require = createRequire(import.meta.url);
  const outDir = join(wasmDir, '..', 'wasm-out');
  const { wasmWorkerContents } = require(join(outDir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const loadMain = /if\(typeof e\.data\.urlOrBlob=="string"\)\{importScripts\(e\.data\.urlOrBlob\)\}else\{[^}]*\}/;
  if (!loadMain.test(wasmWorkerContents)) return false; // a tfjs version whose worker we do not know
  // The source holds "\n" escapes that became newlines in the template literal (tfjs re-escapes them too).
  const workerSource = wasmWorkerContents.replace(/\n/g, '\\n').replace(loadMain, `importScripts(${JSON.stringify(join(outDir, 'tfjs-backend-wasm-threaded-simd.js'))});`);
  const NodeWorker = workerThreads.Worker;
  class BlobUrlWorker extends NodeWorker {
    constructor(url: string | URL, opts?: workerThreads.WorkerOptions) {
      if (String(url).startsWith('blob:')) super(workerSource, { ...opts, eval: true });
      else super(url, opts);
    }
  }
  (workerThreads as { Worker: typeof NodeWorker }).Worker = BlobUrlWorker;
  const cpus = os.cpus;
  os.cpus = () => new Array(2 * threads).fill(cpus()[0]);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  try {
    if (!(await tf.setBackend('wasm'))) return false;
    // Emscripten ref()s a worker while a pthread runs on it; XNNPACK's pool threads run forever,
    // so without this the process would never exit.
    const pthread = (tf.backend() as unknown as { wasm: { PThread?: { runningWorkers: { unref(): void }[] } } }).wasm.PThread;
    for (const worker of pthread?.runningWorkers ?? []) worker.unref();
    return true;
  } finally {
    os.cpus = cpus;
    (workerThreads as { Worker: typeof NodeWorker }).Worker = NodeWorker;
  }
}

async function tryImport(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads tfjs with gradients and the asked-for backend (`auto`: tensorflow → wasm → cpu).
 * The first call fixes the backend for the process; later calls return it.
 * @example const { tf, backend } = await loadTf('auto');
 */
export async function loadTf(choice: BackendChoice = 'auto'): Promise<{ tf: TF; backend: BackendName; threads: number }> {
  if (loaded) {
    if (choice !== 'auto' && choice !== loaded.backend) {
      throw new Error(`tfjs backend is already "${loaded.backend}" in this process; cannot switch to "${choice}"`);
    }
    return loaded;
  }
  const tf: TF = await import('@tensorflow/tfjs-core');
  // PROD silences tfjs's "install tfjs-node" banner; dprep prints its own backend note.
  tf.env().set('PROD', true);
  register('data:text/javascript,' + encodeURIComponent(RESOLVE_HOOK));
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');

  let backend: BackendName | undefined;
  let threadCount = 1;
  if (choice === 'auto' || choice === 'tensorflow') {
    if ((await tryImport('@tensorflow/tfjs-node-gpu')) || (await tryImport('@tensorflow/tfjs-node'))) {
      if (await tf.setBackend('tensorflow')) backend = 'tensorflow';
    }
    if (!backend && choice === 'tensorflow') {
      throw new Error('backend "tensorflow" needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (npm install one of them)');
    }
  }
  if (!backend && (choice === 'auto' || choice === 'wasm')) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    // setWasmPaths wants a directory prefix ending in '/'; a file path works in Node.
    wasm.setWasmPaths(wasmDir + '/');
    const native = loadNative();
    registerSegmentSumKernels(tf, 'wasm', native?.kernels);
    registerWasmMatMul(tf);
    registerWasmSharedIdentity(tf);
    registerWasmRowGather(tf);
    if (native) {
      registerWasmNativeMatMul(tf, native.kernels);
      registerFusedKernels(tf, 'wasm', native.kernels);
    }
    const threads = wasmThreadsWanted();
    if ((threads > 1 && (await initThreadedWasm(tf, wasm, wasmDir, threads))) || (await tf.setBackend('wasm'))) {
      backend = 'wasm';
      threadCount = wasm.getThreadsCount();
    } else if (choice === 'wasm') throw new Error('the tfjs wasm backend failed to initialize');
  }
  if (!backend) {
    await import('@tensorflow/tfjs-backend-cpu');
    registerSegmentSumKernels(tf, 'cpu');
    registerFusedKernels(tf, 'cpu');
    if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend failed to initialize');
    backend = 'cpu';
  }
  await tf.ready();
  loaded = { tf, backend, threads: threadCount };
  return loaded;
}
