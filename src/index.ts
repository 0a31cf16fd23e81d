/**
 * dprep's library surface, `import { … } from 'dprep'`, grouped by stage of the loop. Only what a
 * library user calls is here; CLI plumbing (command declarations, option parsing), parsers'
 * line-level helpers, kernels and worker entry points stay internal. test/public-api.test.ts
 * pins this list: a change to it is a change to the API.
 *
 * @example
 * import { readDprRecords, hasAnswer } from 'dprep';
 * for await (const { record } of readDprRecords('train.dpr.json')) {
 *   if (!record.positive_ctxs.some((c) => hasAnswer(record.answers, c.text))) console.log(record.question);
 * }
 */

// Data model and errors: DPR records, passages, the encoder interface; bad input names file, record, field.
export type { Passage, Ctx, DprRecord, MatchMode, Encoder, EncodeInput } from './types.ts';
export { InputError, UsageError } from './util/errors.ts';
export { Summary } from './util/summary.ts';
export { DPREP_VERSION } from './version.ts';

// Answer matching: DPR's has_answer, string and regex modes.
export { hasAnswer, AnswerMatcher, dprTokens } from './text/answer.ts';

// Formats: DPR records and corpora, streamed in and written atomically; Arrow IPC (HF datasets) rows.
export { readDprRecords, openRecordWriter, validateDprRecord, type RecordFormat, type RecordWriter, type RecordWithLocation } from './io/records.ts';
export { readCorpus, openCorpusWriter, type CorpusFormat, type CorpusWriter } from './io/corpus.ts';
export { readArrowRows } from './io/arrow.ts';

// Converters: source datasets → DPR records + passages, through a sink; each returns or fills a Summary.
export { convertSquad, convertSquadJson, type SquadConvertOptions, type SquadSink, type UnanswerableRecord } from './converters/squad.ts';
export { convertNq, detectNqFormat, type NqInputFormat, type NqSink, type NqOptions } from './converters/nq.ts';
export { convertMsmarco, type MsmarcoConvertOptions, type MsmarcoSink } from './converters/msmarco.ts';
export { chunkText, type Chunk, type Span } from './converters/chunk.ts';

// BM25: analyzers, the on-disk index, its search.
export { createAnalyzer, type Analyzer, type AnalyzerConfig, type AnalyzerLang } from './text/analyzer.ts';
export { buildBm25Index, type BuildOptions as Bm25BuildOptions } from './search/bm25/builder.ts';
export { Bm25Index, type Bm25Hit } from './search/bm25/index.ts';
export type { Bm25Params } from './search/bm25/format.ts';

// Mining: hard negatives from BM25 or a dense index, answer-filtered.
export { mineBm25, type MineBm25Options, type MiningReport } from './miners/bm25.ts';
export { mineDense, type DenseMiningOptions, type DenseMiningResult } from './miners/dense.ts';
export { rescoreNegatives, type RescoreOptions } from './miners/rescore.ts';
export { selectNegatives, type Hit, type NegativeSelection, type FilterCounts } from './miners/filter.ts';

// Trainer: load an HF-layout encoder, train a bi-encoder.
export { loadEncoder, type EncoderOptions } from './trainer/encoder.ts';
export { loadCrossEncoder, type CrossEncoder, type CrossEncoderOptions } from './trainer/cross-encoder.ts';
export { trainBiEncoder, type TrainOptions, type TrainResult } from './trainer/train.ts';

// Vector search: encode a corpus to embedding shards, search them (faiss or exact).
export { encodeCorpus, type EncodeCorpusOptions, type EncodeCorpusResult } from './search/vector/encode.ts';
export { EmbeddingsWriter, readEmbeddingShards, readEmbeddingsManifest, type EmbeddingsManifest } from './io/embeddings.ts';
export { createVectorIndex, type VectorIndex, type VectorIndexOptions, type TopK } from './search/vector/index.ts';

// Eval metrics: DPR top-k accuracy, TREC runs and qrels, MRR/recall/nDCG, reports.
export { topKAccuracy, firstAnswerRank, answerMrr } from './eval/topk.ts';
export { dprAccuracy, denseRun } from './eval/retrieval.ts';
export { readRun, readQrels, writeRun, writeQrels, type Run, type RunEntry, type Qrels } from './eval/trec.ts';
export { evaluateRun, parseMetrics, type MetricSpec, type EvaluationResult } from './eval/metrics.ts';
export { renderReportMarkdown, reportJson, writeReport, type ReportRow } from './eval/report.ts';

// Pipeline runner: YAML → plan → run (cached, resumable), status and the step graph.
export { readPipelineFile, parsePipeline, PipelineError, type PipelineSpec } from './pipeline/schema.ts';
export { planPipeline, type PlanOptions } from './commands/_plan.ts';
export type { Plan, PlannedStep } from './pipeline/plan.ts';
export { runPipeline, pipelineStatus, StepFailedError, type RunOptions, type RunResult } from './pipeline/runner.ts';
export { dagText, dagMermaid } from './pipeline/dag.ts';
