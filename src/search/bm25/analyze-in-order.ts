/**
 * The index builder's analysis phase: passages grouped into batches, analyzed on worker threads
 * (or this one), and handed back in corpus order.
 */
import type { Passage } from '../../types.ts';
import type { AnalyzerConfig } from '../../text/analyzer.ts';
import { BatchAnalyzer, type AnalyzedBatch, type PassageBatch } from './analyze-batch.ts';
import { WorkerPool } from '../../util/workers.ts';
import { OrderedWindow } from '../../util/ordered-window.ts';

/** Groups passages into batches of `size`. */
async function* batchesOf(passages: AsyncIterable<Passage> | Iterable<Passage>, size: number): AsyncGenerator<PassageBatch> {
  let batch: PassageBatch = { ids: [], titles: [], texts: [] };
  for await (const p of passages) {
    batch.ids.push(p.passage_id);
    batch.titles.push(p.title);
    batch.texts.push(p.text);
    if (batch.ids.length === size) {
      yield batch;
      batch = { ids: [], titles: [], texts: [] };
    }
  }
  if (batch.ids.length > 0) yield batch;
}

/**
 * Calls `consume` with each analyzed batch in corpus order and the index of the analyzer thread
 * that made it. With threads > 0, batch i goes to worker i mod threads (each worker sees its
 * batches in order, as its local term ids require) and up to two batches per worker are in
 * flight while this thread reads ahead; otherwise batches are analyzed here.
 * @example await analyzeInOrder(passages, { indexTitle: true, threads: 2, batchSize: 512 }, (r, t) => add(r, t));
 */
export async function analyzeInOrder(
  passages: AsyncIterable<Passage> | Iterable<Passage>,
  o: { analyzer?: Partial<AnalyzerConfig>; indexTitle: boolean; threads: number; batchSize: number },
  consume: (result: AnalyzedBatch, thread: number) => void,
): Promise<void> {
  const batches = batchesOf(passages, Math.max(1, o.batchSize));
  if (o.threads <= 0) {
    const local = new BatchAnalyzer(o.analyzer, o.indexTitle);
    for await (const batch of batches) consume(local.analyze(batch), 0);
    return;
  }
  const pool = WorkerPool.start<PassageBatch, AnalyzedBatch>('bm25 build worker', new URL('./build-worker.ts', import.meta.url), o.threads, {
    analyzer: o.analyzer ?? {},
    indexTitle: o.indexTitle,
  });
  try {
    const window = new OrderedWindow<AnalyzedBatch, number>(2 * o.threads - 1, consume);
    let next = 0;
    for await (const batch of batches) {
      const thread = next++ % o.threads;
      await window.push(pool.send(thread, batch), thread);
    }
    await window.drain();
  } finally {
    await pool.close();
  }
}
