/** Worker side of exactSearchParallel: scores each slice of queries it is sent against the shared matrix. */
import { workerData } from 'node:worker_threads';
import { exactSearch, type ExactRequest, type TopK } from './exact.ts';
import { serveRequests } from '../../util/workers.ts';

const { matrix, dim } = workerData as { matrix: Float32Array; dim: number };
serveRequests(
  ({ queries, k }: ExactRequest) => exactSearch(matrix, dim, queries, k),
  (result: TopK) => [result.ids.buffer as ArrayBuffer, result.scores.buffer as ArrayBuffer],
);
