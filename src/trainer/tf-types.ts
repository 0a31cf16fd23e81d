/**
 * The tfjs types the trainer's files share, in a leaf module: backend.ts loads the kernels and
 * fused ops at run time, so they take these types from here rather than from backend.ts.
 */
export type TF = typeof import('@tensorflow/tfjs-core');
/** What `--backend` accepts: `auto` picks tfjs-node if installed, else wasm, else cpu. */
export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
