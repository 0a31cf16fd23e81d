/**
 * TensorFlow.js loading and backend choice for the trainer.
 *
 * - `tensorflow`: @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, when the user installed one
 *   (optional; detected with a dynamic import).
 * - `wasm`: the bundled XNNPACK build (single thread in Node: tfjs disables its threaded build there).
 * - `cpu`: pure JS; slow, but always there.
 *
 * tfjs-core's Node bundle does not register gradients (the `@tensorflow/tfjs` union package does),
 * and its ESM gradient modules use extensionless imports that Node cannot resolve. A tiny resolve
 * hook adds the `.js` so `register_all_gradients.js` loads; gradients land in tfjs's global registry.
 */
import { register } from 'node:module';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { registerSegmentSumKernels, registerWasmMatMul } from './kernels.ts';

export type TF = typeof import('@tensorflow/tfjs-core');
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

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

let loaded: { tf: TF; backend: BackendName } | undefined;

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
export async function loadTf(choice: BackendChoice = 'auto'): Promise<{ tf: TF; backend: BackendName }> {
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
    // setWasmPaths wants a directory prefix ending in '/'; a file path works in Node.
    wasm.setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
    registerSegmentSumKernels(tf, 'wasm');
    registerWasmMatMul(tf);
    if (await tf.setBackend('wasm')) backend = 'wasm';
    else if (choice === 'wasm') throw new Error('the tfjs wasm backend failed to initialize');
  }
  if (!backend) {
    await import('@tensorflow/tfjs-backend-cpu');
    registerSegmentSumKernels(tf, 'cpu');
    if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend failed to initialize');
    backend = 'cpu';
  }
  await tf.ready();
  loaded = { tf, backend };
  return loaded;
}
