/**
 * Retrieval evaluation over DPR records: retrieve with the dense model (or take any run file,
 * e.g. BM25's) and score DPR top-k accuracy with has_answer over the retrieved passages.
 * A question's qid is its record `id` when present, else its 0-based index in the file.
 */
import { readDprRecords } from '../io/records.ts';
import type { DprRecord, Encoder, MatchMode } from '../types.ts';
import { readCorpus, type CorpusColumns } from '../io/corpus.ts';
import type { EmbeddingsSource } from '../io/embeddings.ts';
import { encodeQuestions, fetchPassages, indexCorpus, openEmbeddings, searchEmbeddings, searchQuestions } from '../search/vector/retrieve.ts';
import type { TopK } from '../search/vector/exact.ts';
import type { RecallReport } from '../search/vector/ann.ts';
import { UsageError } from '../util/errors.ts';
import type { VectorIndexOptions } from '../search/vector/index.ts';
import { answerMrr, firstAnswerRank, topKAccuracy } from './topk.ts';
import { isEmptyAnswer } from '../text/answer.ts';
import type { Run } from './trec.ts';

/** qid of a record: its id, else its index. */
export const recordQid = (r: DprRecord, index: number): string => r.id ?? String(index);

/**
 * Dense retrieval of every question in `examples`: top `depth` passages as a run.
 * Passages come from `embeddings` (dprep encode) or, without it, are encoded now with `passageEncoder`.
 * @example
 * const run = await denseRun({ examples: 'dev.dpr.json', corpus: 'corpus.jsonl', queryEncoder, embeddings: 'emb', depth: 100, log: console.error });
 */
export async function denseRun(opts: {
  examples: string;
  corpus: string;
  /** Layout of a headerless 3-column TSV corpus (`--columns`). */
  corpusColumns?: CorpusColumns;
  queryEncoder: Encoder;
  passageEncoder?: Encoder;
  embeddings?: string;
  /** The passage encoder the embeddings must come from (content hash), when the caller knows it. */
  embeddingsModel?: EmbeddingsSource['model'];
  depth: number;
  index?: VectorIndexOptions;
  /** Questions per encode + search call (searchQuestions' default 256). */
  batch?: number;
  /**
   * Only questions [start, end) of the file (a work unit's share), searched in the batches of a
   * whole run (the first and last batch done whole), so the run holds the scores a whole run has.
   */
  range?: { start: number; end: number };
  log(message: string): void;
  /** Called with an approximate index's recall against exact search. */
  onRecall?(recall: RecallReport): void;
}): Promise<Run> {
  const qids: string[] = [];
  const questions: string[] = [];
  let i = 0;
  for await (const { record } of readDprRecords(opts.examples)) {
    qids.push(recordQid(record, i++));
    questions.push(record.question);
  }
  const batch = opts.batch ?? 256;
  const start = opts.range ? opts.range.start : 0;
  const end = opts.range ? opts.range.end : qids.length;
  const from = Math.floor(start / batch) * batch;
  const to = Math.min(qids.length, Math.ceil(end / batch) * batch);
  let hits: TopK;
  let rowId: (row: number) => string;
  if (opts.embeddings) {
    const manifest = await openEmbeddings(opts.embeddings, { corpus: opts.corpus, model: opts.embeddingsModel });
    const queryVectors = await encodeQuestions(questions.slice(from, to), opts.queryEncoder, manifest.dim, batch);
    // An approximate index's recall: sampled over all the file's questions, measured on this call's own.
    const recallScope = { total: qids.length, offset: from, start, end };
    const found = await searchEmbeddings(opts.embeddings, queryVectors, opts.depth, { index: opts.index, log: opts.log, recallScope });
    if (found.recall) opts.onRecall?.(found.recall);
    opts.log(`eval: ${found.size} passages in ${found.shards} shard(s) searched with ${found.description}`);
    hits = found.hits;
    rowId = (row) => found.rowIds.get(row)!;
  } else {
    if (opts.index?.kind === 'ivf' || opts.index?.kind === 'ivfpq') throw new UsageError(`--index ${opts.index.kind} is built from embeddings shards: give --embeddings (dprep encode), or use --index flat or hnsw`);
    const { index, rowIds } = await indexCorpus(readCorpus(opts.corpus, { columns: opts.corpusColumns }), opts.passageEncoder!, opts.index);
    opts.log(`eval: ${index.size} passages indexed with ${index.description}`);
    ({ hits } = await searchQuestions(questions.slice(from, to), opts.queryEncoder, index, Math.min(opts.depth, index.size), batch));
    rowId = (row) => rowIds[row];
  }
  const depth = hits.k;
  const run: Run = new Map();
  for (let q = start; q < end; q++) {
    const entries = [];
    for (let r = 0; r < depth; r++) {
      const row = hits.ids[(q - from) * depth + r];
      if (row >= 0) entries.push({ docid: rowId(row), score: hits.scores[(q - from) * depth + r] });
    }
    run.set(qids[q], entries);
  }
  return run;
}

/**
 * DPR top-k accuracy of a run over DPR records (answers checked with has_answer in each passage).
 * Questions missing from the run count as misses.
 * @example const acc = await dprAccuracy(run, 'dev.dpr.json', 'corpus.jsonl', [1, 5, 20, 100]);
 */
export async function dprAccuracy(run: Run, examples: string, corpus: string, ks: readonly number[], mode: MatchMode = 'string', columns?: CorpusColumns, mrrK = 0): Promise<{ metrics: Record<string, number>; questions: number; answered: number }> {
  const maxK = Math.max(...ks, mrrK);
  const wanted = new Set<string>();
  for (const entries of run.values()) for (const e of entries.slice(0, maxK)) wanted.add(e.docid);
  const passages = await fetchPassages(corpus, wanted, columns);
  const ranks: number[] = [];
  let i = 0;
  let answered = 0;
  for await (const { record } of readDprRecords(examples)) {
    const entries = run.get(recordQid(record, i++)) ?? [];
    if (!record.answers.every(isEmptyAnswer)) answered++;
    ranks.push(firstAnswerRank(record.answers, entries.slice(0, maxK).map((e) => passages.get(e.docid)!), mode));
  }
  const metrics = topKAccuracy(ranks, ks);
  if (mrrK > 0) metrics[`mrr@${mrrK}`] = answerMrr(ranks, mrrK);
  return { metrics, questions: ranks.length, answered };
}
