/**
 * Worker thread body for index builds: analyzes batches in arrival order with one BatchAnalyzer
 * (its term dictionary persists across batches) and answers with the typed arrays transferred.
 */
import { workerData } from 'node:worker_threads';
import type { AnalyzerConfig } from '../../text/analyzer.ts';
import { BatchAnalyzer, transferList, type PassageBatch } from './analyze-batch.ts';
import { serveRequests } from '../../util/workers.ts';

const { analyzer, indexTitle } = workerData as { analyzer: Partial<AnalyzerConfig>; indexTitle: boolean };
const batches = new BatchAnalyzer(analyzer, indexTitle);

serveRequests((batch: PassageBatch) => batches.analyze(batch), transferList);
