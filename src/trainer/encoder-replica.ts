/**
 * An encoder replica (worker thread, started by loadEncoder with `workers` > 1): its own tfjs
 * backend and copy of the model, answering padded token batches with their pooled vectors
 * (`[batch, dim]`), one at a time, through util/workers.ts's request protocol.
 */
import { workerData } from 'node:worker_threads';
import { loadTf } from './backend.ts';
import { createEncoderModel } from './families.ts';
import { embedTokens, type EncoderReplicaInit } from './encoder.ts';
import type { TokenBatch } from './tokenizer.ts';
import { serveRequests } from '../util/workers.ts';

const init = workerData as EncoderReplicaInit;
const { tf } = await loadTf(init.backend);
const model = createEncoderModel(tf, init.config, new Map(init.tensors), init.name);
serveRequests(
  (batch: TokenBatch) => embedTokens(tf, model, batch, init.pooling, init.normalize),
  (vectors) => [vectors.buffer as ArrayBuffer],
);
