/**
 * Natural Questions in the forms DPR users meet it, converted to DPR records:
 *
 * - `dpr`: DPR's biencoder JSON (`biencoder-nq-train.json`, one JSON array of records; JSON lines
 *   accepted too). Streamed, validated, duplicate positives (same passage_id) removed keeping the
 *   first (DPR puts the gold passage, score 1000, first), empty answers dropped.
 * - `dpr-qa`: DPR's qa files (`nq-test.qa.csv`: question TAB Python list of answers, written by
 *   Python's csv module: CRLF, `""`-quoted fields). Records carry no passages (eval, BM25 mining).
 * - `nq-open`: NQ-open jsonl (`{"question", "answer": [...]}`); the `.no-annotations` variant has
 *   no answers: counted skips, or records with `answers: []` under `allowNoAnswers`.
 * - `nq-simplified`: see ./nq-simplified.ts.
 *
 * Skips (counted, with examples, in the summary): no positive passage, no non-empty answer.
 * Stops (InputError naming file, record, field): invalid JSON, wrong field types, a qa line that is
 * not two fields or whose answers are not a Python list of strings.
 *
 * Example: dprep convert nq --input biencoder-nq-dev.json --out nq.dpr.jsonl --corpus nq.corpus.jsonl
 */
import { open } from 'node:fs/promises';
import type { Ctx, DprRecord } from '../types.ts';
import { readDprRecords } from '../io/records.ts';
import { readJsonLines, openByteStream, assertReadableFile } from '../io/lines.ts';
import { readTsv } from '../io/tsv.ts';
import { AnswerMatcher, isEmptyAnswer } from '../text/answer.ts';
import { InputError, UsageError } from '../util/errors.ts';
import type { Summary } from '../util/summary.ts';
import { parsePythonStringList, PythonLiteralError } from './python-literal.ts';
import { convertNqSimplified } from './nq-simplified.ts';
import { NQ_INPUT_FORMATS, type NqInputFormat, type NqOptions, type NqSink } from './nq-options.ts';

export { NQ_INPUT_FORMATS, nqOptions, type NqInputFormat, type NqOptions, type NqSink } from './nq-options.ts';

/**
 * Converts any of the four NQ inputs (format detected from content unless given).
 *
 * @example
 * const format = await convertNq('nq-test.qa.csv', { summary, write: async (r) => out.push(r) });
 */
export async function convertNq(file: string, sink: NqSink, opts: NqOptions & { format?: NqInputFormat } = {}): Promise<NqInputFormat> {
  const format = opts.format ?? (await detectNqFormat(file));
  if (format === 'dpr') await convertDprBiencoder(file, sink, opts);
  else if (format === 'dpr-qa') await convertDprQa(file, sink, opts);
  else if (format === 'nq-open') await convertNqOpen(file, sink, opts);
  else await convertNqSimplified(file, sink, opts);
  return format;
}

/**
 * Tells the NQ input format from the first bytes (gzip is looked through): "[" starts DPR's JSON
 * array; a JSON object line is a DPR record (has positive_ctxs), a simplified NQ example (has
 * document_text) or NQ-open (has question); a line with a TAB is a DPR qa file.
 *
 * @example
 * await detectNqFormat('topics.dpr.nq.test.txt') // 'dpr-qa'
 */
export async function detectNqFormat(file: string): Promise<NqInputFormat> {
  await assertReadableFile(file);
  const fh = await open(file, 'r');
  const magic = Buffer.alloc(4);
  await fh.read(magic, 0, 4, 0).finally(() => fh.close());
  if (magic.toString('latin1') === 'PAR1') return 'dpr';
  const first = await readFirstLine(file, 64 << 20);
  const trimmed = first.text.replace(/^\uFEFF/, '').trimStart();
  if (trimmed.startsWith('[')) return 'dpr';
  if (trimmed.startsWith('{')) {
    let obj: unknown;
    try {
      obj = first.complete ? JSON.parse(trimmed) : undefined;
    } catch {
      obj = undefined; // the converter will name the bad line; detection only needs the keys
    }
    const has = (key: string) => (obj && typeof obj === 'object' ? key in obj : new RegExp(`"${key}"\\s*:`).test(trimmed));
    if (has('positive_ctxs')) return 'dpr';
    if (has('document_text') || has('long_answer_candidates')) return 'nq-simplified';
    if (has('question')) return 'nq-open';
    throw new InputError(file, 'line 1', undefined, 'a JSON object that is neither a DPR record (positive_ctxs), a simplified NQ example (document_text) nor NQ-open (question); pass --input-format');
  }
  if (trimmed.includes('\t')) return 'dpr-qa';
  throw new InputError(file, 'line 1', undefined, `cannot tell the NQ format (expected "[", a JSON object or question TAB answers); pass --input-format one of ${NQ_INPUT_FORMATS.join(', ')}`);
}

/** The first line of the (decompressed) file, read up to `limit` bytes (DPR arrays are one huge line). */
async function readFirstLine(file: string, limit: number): Promise<{ text: string; complete: boolean }> {
  const stream = await openByteStream(file);
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const nl = chunk.indexOf(0x0a);
      parts.push(nl >= 0 ? chunk.subarray(0, nl) : chunk);
      size += chunk.length;
      if (nl >= 0) return { text: Buffer.concat(parts).toString('utf8').replace(/\r$/, ''), complete: true };
      // "[" is decided at once: do not read a 7 GB one-line array.
      if (/^(\uFEFF)?\s*\[/.test(Buffer.concat(parts).subarray(0, 64).toString('utf8')) || size >= limit) break;
    }
  } finally {
    stream.destroy();
  }
  return { text: Buffer.concat(parts).toString('utf8'), complete: false };
}

/** Drops empty answers (DPR's has_answer would match them everywhere) and exact duplicates, counting both. */
function cleanAnswers(answers: readonly string[], summary: Summary): string[] {
  const out: string[] = [];
  for (const a of answers) {
    if (isEmptyAnswer(a)) summary.count('empty answers dropped');
    else if (out.includes(a)) summary.count('duplicate answers dropped');
    else out.push(a);
  }
  return out;
}

/** Keeps the first ctx of each passage_id. */
function dedupeCtxs(ctxs: Ctx[]): { kept: Ctx[]; removed: number } {
  if (ctxs.length < 2) return { kept: ctxs, removed: 0 };
  const seen = new Set<string>();
  const kept = ctxs.filter((c) => !seen.has(c.passage_id) && (seen.add(c.passage_id), true));
  return { kept, removed: ctxs.length - kept.length };
}

/**
 * DPR's biencoder JSON (or DPR records as JSON lines / Parquet), streamed record by record.
 * With `sink.passage`, every ctx is offered (the command keeps the first of each passage_id).
 *
 * @example
 * await convertDprBiencoder('biencoder-nq-dev.json', sink, { dataset: 'nq_dev' });
 */
export async function convertDprBiencoder(file: string, sink: NqSink, opts: NqOptions = {}): Promise<void> {
  const { summary } = sink;
  for await (const { record, where } of readDprRecords(file, { onRawBytes: opts.onRawBytes })) {
    summary.read++;
    const answers = cleanAnswers(record.answers, summary);
    if (answers.length === 0) {
      summary.skip('no non-empty answer', where);
      continue;
    }
    const { kept: positives, removed } = dedupeCtxs(record.positive_ctxs);
    if (removed > 0) summary.count('duplicate positives removed (same passage_id)', removed);
    if (positives.length === 0) {
      summary.skip('no positive_ctxs', where);
      continue;
    }
    // DPR's released positives do not always contain the answer string; they are kept as released.
    const matcher = new AnswerMatcher(answers);
    if (!positives.some((c) => matcher.matches(c.text))) summary.count('records kept whose positives lack the answer string');
    const out: DprRecord = {
      dataset: opts.dataset ?? (record.dataset || 'nq'),
      question: record.question,
      answers,
      positive_ctxs: positives,
      negative_ctxs: record.negative_ctxs,
      hard_negative_ctxs: record.hard_negative_ctxs,
    };
    if (record.id !== undefined) out.id = record.id;
    await sink.write(out);
    summary.converted++;
    if (sink.passage) {
      for (const list of [positives, record.negative_ctxs, record.hard_negative_ctxs]) {
        for (const c of list) await sink.passage({ passage_id: c.passage_id, title: c.title, text: c.text });
      }
    }
  }
}

/** A record with a question and answers only (DPR's qa files, NQ-open). */
function questionRecord(dataset: string, question: string, answers: string[]): DprRecord {
  return { dataset, question, answers, positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [] };
}

/**
 * DPR's qa files: `question TAB ['answer', ...]`, parsed as TSV with CSV quoting, the answer list
 * as a Python literal (never eval'd).
 *
 * @example
 * await convertDprQa('nq-test.qa.csv', sink) // 3,610 records, no ctxs
 */
export async function convertDprQa(file: string, sink: NqSink, opts: NqOptions = {}): Promise<void> {
  const { summary } = sink;
  const dataset = opts.dataset ?? 'dpr_qa';
  for await (const { lineNo, fields } of readTsv(file, opts.onRawBytes)) {
    const where = `line ${lineNo}`;
    summary.read++;
    if (fields.length !== 2) {
      throw new InputError(file, where, undefined, `expected 2 tab-separated fields (question, answer list), got ${fields.length}`);
    }
    let parsed: string[];
    try {
      parsed = parsePythonStringList(fields[1]);
    } catch (err) {
      if (err instanceof PythonLiteralError) throw new InputError(file, where, 'answers', `not a Python list of strings: ${err.message}`);
      throw err;
    }
    const answers = cleanAnswers(parsed, summary);
    if (answers.length === 0 && !opts.allowNoAnswers) {
      summary.skip('no non-empty answer', where);
      continue;
    }
    await sink.write(questionRecord(dataset, fields[0], answers));
    summary.converted++;
  }
}

/**
 * NQ-open jsonl (`{"question", "answer": [...]}`; `answers` accepted too). Lines without answers
 * (the `.no-annotations` files) are counted skips unless `allowNoAnswers`.
 *
 * @example
 * await convertNqOpen('NQ-open.dev.jsonl', sink) // 3,610 records
 */
export async function convertNqOpen(file: string, sink: NqSink, opts: NqOptions = {}): Promise<void> {
  const { summary } = sink;
  const dataset = opts.dataset ?? 'nq_open';
  for await (const { value, where } of readJsonLines(file, opts.onRawBytes)) {
    summary.read++;
    const obj = value as Record<string, unknown>;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InputError(file, where, undefined, 'expected a JSON object {question, answer}');
    if (typeof obj.question !== 'string') throw new InputError(file, where, 'question', 'expected a string');
    const key = obj.answer !== undefined ? 'answer' : 'answers';
    const raw = obj[key];
    if (raw === undefined || raw === null) {
      if (!opts.allowNoAnswers) {
        summary.skip('no answers given (use --allow-no-answers to keep)', where);
        continue;
      }
    } else if (!Array.isArray(raw) || raw.some((a) => typeof a !== 'string')) {
      throw new InputError(file, where, key, 'expected an array of strings');
    }
    const answers = cleanAnswers((raw as string[] | undefined) ?? [], summary);
    if (answers.length === 0 && !opts.allowNoAnswers) {
      summary.skip('no non-empty answer', where);
      continue;
    }
    await sink.write(questionRecord(dataset, obj.question, answers));
    summary.converted++;
  }
}

export function assertNqFormat(value: string | undefined): NqInputFormat | undefined {
  if (value === undefined) return undefined;
  if (!(NQ_INPUT_FORMATS as readonly string[]).includes(value)) throw new UsageError(`unknown NQ input format "${value}"; expected one of ${NQ_INPUT_FORMATS.join(', ')}`);
  return value as NqInputFormat;
}
