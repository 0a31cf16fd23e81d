/**
 * The tfjs types the trainer's files share, in a leaf module: backend.ts loads the kernels and
 * fused ops at run time, so they take these types from here rather than from backend.ts.
 */
export type TF = typeof import('@tensorflow/tfjs-core');
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
