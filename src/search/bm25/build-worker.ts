/**
 * Worker thread body for index builds: analyzes { id, batch } messages in arrival order with one
 * BatchAnalyzer (its term dictionary persists across batches) and answers { id, result } with the
 * typed arrays transferred, or { id, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AnalyzerConfig } from '../../text/analyzer.ts';
import { BatchAnalyzer, transferList, type PassageBatch } from './analyze-batch.ts';

export type BuildWorkerRequest = { id: number; batch: PassageBatch };

const { analyzer, indexTitle } = workerData as { analyzer: Partial<AnalyzerConfig>; indexTitle: boolean };
const batches = new BatchAnalyzer(analyzer, indexTitle);

parentPort!.on('message', (msg: BuildWorkerRequest) => {
  try {
    const result = batches.analyze(msg.batch);
    parentPort!.postMessage({ id: msg.id, result }, transferList(result));
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
