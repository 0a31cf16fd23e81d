/**
 * Retrieval evaluation over DPR records: retrieve with the dense model (or take any run file,
 * e.g. BM25's) and score DPR top-k accuracy with has_answer over the retrieved passages.
 * A question's qid is its record `id` when present, else its 0-based index in the file.
 */
import { readDprRecords } from '../io/records.ts';
import type { DprRecord, Encoder, MatchMode } from '../types.ts';
import { readCorpus, type CorpusColumns } from '../io/corpus.ts';
import type { EmbeddingsSource } from '../io/embeddings.ts';
import { fetchPassages, indexCorpus, loadEmbeddingsIndex, searchQuestions } from '../search/vector/retrieve.ts';
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
  log(message: string): void;
}): Promise<Run> {
  const qids: string[] = [];
  const questions: string[] = [];
  let i = 0;
  for await (const { record } of readDprRecords(opts.examples)) {
    qids.push(recordQid(record, i++));
    questions.push(record.question);
  }
  const { index, rowIds } = opts.embeddings
    ? await loadEmbeddingsIndex(opts.embeddings, opts.index, undefined, { corpus: opts.corpus, model: opts.embeddingsModel })
    : await indexCorpus(readCorpus(opts.corpus, { columns: opts.corpusColumns }), opts.passageEncoder!, opts.index);
  opts.log(`eval: ${index.size} passages indexed with ${index.description}`);
  const depth = Math.min(opts.depth, index.size);
  const { hits } = await searchQuestions(questions, opts.queryEncoder, index, depth);
  const run: Run = new Map();
  qids.forEach((qid, q) => {
    const entries = [];
    for (let r = 0; r < depth; r++) {
      const row = hits.ids[q * depth + r];
      if (row >= 0) entries.push({ docid: rowIds[row], score: hits.scores[q * depth + r] });
    }
    run.set(qid, entries);
  });
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
