/**
 * A data-parallel trainer replica (worker thread): one BiEncoder on its own tfjs backend, with the
 * master weights read from shared memory before each step. Requests come from `ReplicaPool`
 * (src/trainer/parallel.ts), one at a time; each reply carries the request id.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadTf } from './backend.ts';
import { BiEncoder, type BiEncoderOptions, type MicroBatch } from './biencoder.ts';
import type { BertConfig } from './config.ts';
import { EmbeddingExchange } from './exchange.ts';
import type { NamedTensor } from './safetensors.ts';
import type { TextTokenizer } from './tokenizer.ts';
import { viewsOf, type ReplicaRequest, type ReplicaInit } from './parallel.ts';

const init = workerData as ReplicaInit;
const { tf, backend } = await loadTf(init.backend);
const noTokenizer: TextTokenizer = {
  maxLength: 0,
  encode: () => Promise.reject(new Error('trainer replicas receive token ids, not text')),
};
const model = new BiEncoder(
  tf,
  init.configs as { query: BertConfig; passage: BertConfig },
  { query: new Map<string, NamedTensor>(init.tensors.query), passage: new Map<string, NamedTensor>(init.tensors.passage) },
  { query: noTokenizer, passage: noTokenizer },
  init.options as BiEncoderOptions,
);
// Views of the master weights; the cpu backend keeps the array it is given, so it gets a copy.
const master = viewsOf(init.params.buffer, init.params.layout);
// This replica's gradients go straight into its shared buffer (same layout as the weights).
const gradSink = viewsOf(init.params.grads, init.params.layout);
const assignMaster = () => model.assign(backend === 'cpu' ? new Map([...master].map(([k, v]) => [k, v.slice()])) : master);

async function handle(req: ReplicaRequest): Promise<void> {
  if (req.assign) assignMaster();
  if (req.type === 'exchange') {
    const exchange = new EmbeddingExchange(req.buffer, req.rows, req.dim, req.parties);
    try {
      const { loss, grads } = await model.exchangeLossAndGrads(req.mb as MicroBatch, { positiveIndex: req.positiveIndex, masked: req.masked }, req.at, exchange, req.seed, gradSink);
      parentPort!.postMessage({ id: req.id, loss, keys: [...grads.keys()] });
    } catch (err) {
      exchange.abort();
      throw err;
    }
  } else if (req.type === 'embed') {
    const { q, p } = await model.embedMicroBatches(req.mbs as MicroBatch[], req.seeds);
    parentPort!.postMessage({ id: req.id, q, p }, [q.buffer as ArrayBuffer, p.buffer as ArrayBuffer]);
  } else if (req.type === 'backprop') {
    const grads = await model.backpropMicroBatches(req.mbs as MicroBatch[], req.seeds, req.dq, req.dp, gradSink);
    parentPort!.postMessage({ id: req.id, keys: [...grads.keys()] });
  }
}

let queue = Promise.resolve();
parentPort!.on('message', (req: ReplicaRequest) => {
  queue = queue.then(() =>
    handle(req).catch((err: Error) => parentPort!.postMessage({ id: req.id, error: err?.stack ?? String(err) })),
  );
});
parentPort!.postMessage({ ready: true, backend });
