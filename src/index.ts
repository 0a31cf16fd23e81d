/**
 * dprep's library surface. Everything a user may import is exported here, deliberately;
 * modules not re-exported are internal.
 */
export type { Passage, Ctx, DprRecord, MatchMode, Encoder, EncodeInput } from './types.ts';
export { hasAnswer, AnswerMatcher, dprTokens } from './text/answer.ts';
export { InputError, UsageError } from './util/errors.ts';
export { Summary } from './util/summary.ts';
export { defineCommand, resolveOptions, type CommandSpec, type OptionsSpec, type RunContext } from './options.ts';
export { commands, findCommand } from './commands/index.ts';
export { loadEncoder } from './trainer/encoder.ts';
export { trainBiEncoder, type TrainOptions, type TrainResult } from './trainer/train.ts';
export { DPREP_VERSION } from './version.ts';
export { createVectorIndex, exactSearch, exactSearchParallel, mergeTopK, type VectorIndex, type VectorIndexOptions, type TopK } from './search/vector/index.ts';
export { encodeCorpus } from './search/vector/encode.ts';
export { EmbeddingsWriter, readEmbeddingShards, readEmbeddingsManifest, type EmbeddingsManifest } from './io/embeddings.ts';
export { mineDense, type DenseMiningOptions } from './miners/dense.ts';
export { evaluateRun, parseMetrics, type MetricSpec, type EvaluationResult } from './eval/metrics.ts';
export { readRun, readQrels, writeRun, writeQrels, type Run, type Qrels } from './eval/trec.ts';
export { topKAccuracy, firstAnswerRank } from './eval/topk.ts';
export { dprAccuracy, denseRun } from './eval/retrieval.ts';
export { renderReportMarkdown, reportJson, writeReport, type ReportRow } from './eval/report.ts';
export { readPipelineFile, parsePipeline, PipelineError, type PipelineSpec } from './pipeline/schema.ts';
export { planPipeline, type Plan, type PlannedStep, type PlanOptions } from './pipeline/plan.ts';
export { runPipeline, pipelineStatus, summaryTable, StepFailedError, type RunOptions, type RunResult } from './pipeline/runner.ts';
export { dagText, dagMermaid } from './pipeline/dag.ts';
export { HashCache } from './pipeline/hash.ts';
export { chunkText, chunkIndexOf, type Chunk, type Span } from './converters/chunk.ts';
export { convertSquad, convertSquadJson, type SquadConvertOptions, type SquadSink, type UnanswerableRecord } from './converters/squad.ts';
export { convertOptions, openConvertOutputs } from './converters/common.ts';
export { convertMsmarco, parseQrelsLine, parseNegativesLine, type MsmarcoConvertOptions, type MsmarcoSink, type Qrel } from './converters/msmarco.ts';
export { convertNq, detectNqFormat, convertDprBiencoder, convertDprQa, convertNqOpen, type NqInputFormat, type NqSink, type NqOptions } from './converters/nq.ts';
export { convertNqSimplified } from './converters/nq-simplified.ts';
export { parsePythonStringList } from './converters/python-literal.ts';
