/**
 * DPR records in and out. Reads a DPR JSON array (streamed element by element) or JSON lines;
 * validates field types with errors that name the file, record and field. Writes DPR JSON,
 * JSON lines, Tevatron jsonl or Parquet, atomically.
 */
import { extname } from 'node:path';
import type { Ctx, DprRecord } from '../types.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { AtomicFile } from './atomic.ts';
import { readJsonArray } from './json-array.ts';
import { readJsonLines, type OnBadRecord } from './lines.ts';
import { ParquetRowWriter, readParquetRows, recordSchemaFields } from './parquet.ts';
import { isArrowMagic, readArrowRows } from './arrow.ts';

export type RecordFormat = 'dpr-json' | 'jsonl' | 'tevatron' | 'parquet';
export const RECORD_FORMATS: readonly RecordFormat[] = ['dpr-json', 'jsonl', 'tevatron', 'parquet'];

/** The record format a path implies: .json → DPR JSON array, .jsonl → JSON lines, .parquet (.gz ignored). */
export function recordFormatFromPath(file: string, explicit?: string): RecordFormat {
  if (explicit) {
    if (!(RECORD_FORMATS as readonly string[]).includes(explicit)) {
      throw new UsageError(`unknown format "${explicit}"; expected one of ${RECORD_FORMATS.join(', ')}`);
    }
    return explicit as RecordFormat;
  }
  const ext = extname(file.replace(/\.gz$/, '')).toLowerCase();
  if (ext === '.json') return 'dpr-json';
  if (ext === '.jsonl') return 'jsonl';
  if (ext === '.parquet') return 'parquet';
  throw new UsageError(`${file}: cannot tell the format from the extension "${ext}"; use .json, .jsonl or .parquet, or pass --format`);
}

export interface RecordWriter {
  write(record: DprRecord): Promise<void>;
  /** Finishes the file and moves it under its final name. */
  close(): Promise<void>;
  /** Drops the temp file: nothing appears under the final name. */
  abort(): Promise<void>;
  readonly count: number;
}

/**
 * Opens an atomic writer for DPR records.
 * @example
 * const out = await openRecordWriter('squad.dpr.json'); await out.write(rec); await out.close();
 */
export async function openRecordWriter(file: string, format: RecordFormat = recordFormatFromPath(file)): Promise<RecordWriter> {
  if (format === 'parquet') {
    const pq = await ParquetRowWriter.create(file, recordSchemaFields, 1024);
    let count = 0;
    return {
      get count() {
        return count;
      },
      async write(r) {
        count++;
        await pq.append(toParquetRow(r));
      },
      close: () => pq.close(),
      abort: () => pq.abort(),
    };
  }
  const out = await AtomicFile.create(file);
  let count = 0;
  const line = format === 'tevatron' ? (r: DprRecord) => JSON.stringify(toTevatron(r, count)) : (r: DprRecord) => JSON.stringify(r);
  return {
    get count() {
      return count;
    },
    async write(r) {
      const json = line(r);
      if (format === 'dpr-json') await out.write((count === 0 ? '[\n' : ',\n') + json);
      else await out.write(json + '\n');
      count++;
    },
    async close() {
      if (format === 'dpr-json') await out.write(count === 0 ? '[]\n' : '\n]\n');
      await out.commit();
    },
    abort: () => out.abort(),
  };
}

/** Tevatron's training jsonl: query_id, query, answers, positive_passages, negative_passages ({docid,title,text}). */
export function toTevatron(r: DprRecord, index: number): Record<string, unknown> {
  const psg = (c: Ctx) => ({ docid: c.passage_id, title: c.title, text: c.text });
  return {
    query_id: r.id ?? String(index),
    query: r.question,
    answers: r.answers,
    positive_passages: r.positive_ctxs.map(psg),
    negative_passages: [...r.hard_negative_ctxs, ...r.negative_ctxs].map(psg),
  };
}

function toParquetRow(r: DprRecord): Record<string, unknown> {
  const ctx = (c: Ctx) => ({ title: c.title, text: c.text, score: c.score, title_score: c.title_score, passage_id: c.passage_id });
  return {
    dataset: r.dataset,
    id: r.id,
    question: r.question,
    answers: r.answers,
    positive_ctxs: r.positive_ctxs.map(ctx),
    negative_ctxs: r.negative_ctxs.map(ctx),
    hard_negative_ctxs: r.hard_negative_ctxs.map(ctx),
  };
}

export interface RecordWithLocation {
  record: DprRecord;
  /** "record [12]" for a JSON array, "line 13" for JSON lines. */
  where: string;
}

/**
 * Streams and validates DPR records from a DPR JSON array, JSON lines, Parquet or Arrow IPC file
 * (format told from the first bytes; Arrow and Parquet ctx lists are lists of structs).
 * Missing `negative_ctxs` / `hard_negative_ctxs` default to []; numeric passage ids become strings.
 * Wrong types stop with an InputError naming the record and field; with `onBad` (--skip-bad)
 * a bad record is reported to it and left out.
 * @example
 * for await (const { record, where } of readDprRecords('train.dpr.json')) console.log(where, record.question);
 */
export async function* readDprRecords(file: string, opts: { onRawBytes?: (n: number) => void; onBad?: OnBadRecord } = {}): AsyncGenerator<RecordWithLocation> {
  const format = await sniffRecordFormat(file);
  const { onBad } = opts;
  const checked = (value: unknown, where: string): RecordWithLocation | undefined => {
    try {
      return { record: validateDprRecord(value, file, where), where };
    } catch (err) {
      if (!onBad || !(err instanceof InputError)) throw err;
      onBad(err);
      return undefined;
    }
  };
  let r: RecordWithLocation | undefined;
  if (format === 'parquet' || format === 'arrow') {
    let i = 0;
    for await (const row of format === 'arrow' ? readArrowRows(file) : readParquetRows(file)) if ((r = checked(fromParquetRow(row), `row ${i++}`))) yield r;
  } else if (format === 'dpr-json') {
    for await (const { index, value } of readJsonArray(file, opts.onRawBytes, onBad)) if ((r = checked(value, `record [${index}]`))) yield r;
  } else {
    for await (const { value, where } of readJsonLines(file, opts.onRawBytes, onBad)) if ((r = checked(value, where))) yield r;
  }
}

/**
 * How many records readDprRecords yields from `file` (one streamed pass): the n that work units
 * split. With `skipBad` bad records are passed over (the command's units count them), else the first stops it.
 */
export async function countDprRecords(file: string, skipBad = false): Promise<number> {
  let n = 0;
  for await (const _ of readDprRecords(file, { onBad: skipBad ? () => {} : undefined })) n++;
  return n;
}

/**
 * Writes the records of a JSON-lines file that a RecordWriter made (a work unit's part) through
 * `writer`, in order, unvalidated: they were validated when first read.
 */
export async function copyRecordLines(file: string, writer: { write(r: DprRecord): Promise<void> }): Promise<void> {
  const { readLines } = await import('./lines.ts');
  for await (const { text } of readLines(file)) if (text !== '') await writer.write(JSON.parse(text) as DprRecord);
}

function fromParquetRow(row: Record<string, unknown>): Record<string, unknown> {
  // parquetjs-lite returns absent repeated fields as undefined and lists of groups as arrays.
  const out: Record<string, unknown> = { ...row };
  for (const k of ['answers', 'positive_ctxs', 'negative_ctxs', 'hard_negative_ctxs']) out[k] ??= [];
  if (out.id === undefined || out.id === null) delete out.id;
  return out;
}

/** JSON array when the first non-space byte is "[", JSON lines otherwise; Parquet and Arrow IPC by magic bytes. */
async function sniffRecordFormat(file: string): Promise<'dpr-json' | 'jsonl' | 'parquet' | 'arrow'> {
  const { open } = await import('node:fs/promises');
  const { assertReadableFile, isGzip } = await import('./lines.ts');
  await assertReadableFile(file);
  if (await isGzip(file)) return file.replace(/\.gz$/, '').endsWith('.jsonl') ? 'jsonl' : 'dpr-json';
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, 64, 0);
    if (bytesRead >= 4 && buf.subarray(0, 4).toString('latin1') === 'PAR1') return 'parquet';
    if (isArrowMagic(buf.subarray(0, bytesRead))) return 'arrow';
    let i = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    while (i < bytesRead && /\s/.test(String.fromCharCode(buf[i]))) i++;
    return buf[i] === 0x5b ? 'dpr-json' : 'jsonl';
  } finally {
    await fh.close();
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function validateCtx(value: unknown, file: string, where: string, field: string): Ctx {
  if (!isObj(value)) throw new InputError(file, where, field, 'expected an object {title, text, passage_id}');
  const { title, text, score, title_score } = value;
  const pid = value.passage_id ?? value.psg_id ?? value.id;
  if (typeof text !== 'string') throw new InputError(file, where, `${field}.text`, 'expected a string');
  if (title !== undefined && title !== null && typeof title !== 'string') throw new InputError(file, where, `${field}.title`, 'expected a string');
  if (typeof pid !== 'string' && typeof pid !== 'number') throw new InputError(file, where, `${field}.passage_id`, 'expected a string or number');
  const ctx: Ctx = { title: (title as string | undefined) ?? '', text, passage_id: String(pid) };
  if (score !== undefined && score !== null) {
    const s = typeof score === 'string' ? Number(score) : score;
    if (typeof s !== 'number' || !Number.isFinite(s)) throw new InputError(file, where, `${field}.score`, 'expected a number');
    ctx.score = s;
  }
  if (title_score !== undefined && title_score !== null) {
    const s = typeof title_score === 'string' ? Number(title_score) : title_score;
    if (typeof s !== 'number' || !Number.isFinite(s)) throw new InputError(file, where, `${field}.title_score`, 'expected a number');
    ctx.title_score = s;
  }
  return ctx;
}

/**
 * Checks one parsed record against the DPR format; returns it normalized.
 * @example const record = validateDprRecord(JSON.parse(line), 'train.jsonl', `line ${lineNo}`);
 */
export function validateDprRecord(value: unknown, file: string, where: string): DprRecord {
  if (!isObj(value)) throw new InputError(file, where, undefined, 'expected a JSON object (a DPR record)');
  const { question, answers, dataset } = value;
  if (typeof question !== 'string') throw new InputError(file, where, 'question', 'expected a string');
  if (!Array.isArray(answers)) throw new InputError(file, where, 'answers', 'expected an array of strings');
  answers.forEach((a, i) => {
    if (typeof a !== 'string') throw new InputError(file, where, `answers[${i}]`, 'expected a string');
  });
  const lists: Record<'positive_ctxs' | 'negative_ctxs' | 'hard_negative_ctxs', Ctx[]> = { positive_ctxs: [], negative_ctxs: [], hard_negative_ctxs: [] };
  for (const key of ['positive_ctxs', 'negative_ctxs', 'hard_negative_ctxs'] as const) {
    const list = value[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new InputError(file, where, key, 'expected an array of passages');
    lists[key] = list.map((c, i) => validateCtx(c, file, where, `${key}[${i}]`));
  }
  const record: DprRecord = {
    dataset: typeof dataset === 'string' ? dataset : '',
    question,
    answers: answers as string[],
    ...lists,
  };
  if (typeof value.id === 'string' || typeof value.id === 'number') record.id = String(value.id);
  return record;
}
