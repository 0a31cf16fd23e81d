/** Worker side of exactSearchParallel: scores its slice of queries against the shared matrix. */
import { parentPort, workerData } from 'node:worker_threads';
import { exactSearch } from './exact.ts';

const { matrix, dim, queries, k } = workerData as { matrix: Float32Array; dim: number; queries: Float32Array; k: number };
const result = exactSearch(matrix, dim, queries, k);
parentPort!.postMessage(result, [result.ids.buffer as ArrayBuffer, result.scores.buffer as ArrayBuffer]);
