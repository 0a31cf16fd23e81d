/**
 * An encoder replica (worker thread, started by loadEncoder with `workers` > 1): its own copy of
 * the model (the native forward, or a tfjs backend and model), answering padded token batches with their pooled vectors
 * (`[batch, dim]`), one at a time, through util/workers.ts's request protocol.
 */
import { workerData } from 'node:worker_threads';
import { loadTf } from './backend.ts';
import { createEncoderModel } from './families.ts';
import { embedTokens, type EncoderReplicaInit } from './encoder.ts';
import type { TokenBatch } from './tokenizer.ts';
import { serveRequests } from '../util/workers.ts';
import { NativeForward } from './native-forward.ts';

const init = workerData as EncoderReplicaInit;
let embed: (batch: TokenBatch) => Float32Array;
if (init.native) {
  const forward = new NativeForward(init.config, new Map(init.tensors));
  embed = (batch) => forward.embed(batch, init.pooling, init.normalize);
} else {
  const { tf } = await loadTf(init.backend);
  const model = createEncoderModel(tf, init.config, new Map(init.tensors), init.name);
  embed = (batch) => embedTokens(tf, model, batch, init.pooling, init.normalize);
}
serveRequests(embed, (vectors) => [vectors.buffer as ArrayBuffer]);
