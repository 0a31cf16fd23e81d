/**
 * Corpora of passages in and out: JSON lines, TSV (DPR's psgs_w100 `id\ttext\ttitle`, OpenMatch's
 * `id\ttitle\ttext` by header or `--columns`, MS MARCO's `pid\tpassage`), or Parquet
 * ({passage_id, title, text}). Streamed both ways.
 * Arrow IPC (`.arrow` from HF datasets, `.feather`) is read, with Parquet's column names.
 */
import { extname } from 'node:path';
import type { Passage } from '../types.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { ARROW_EXTENSION, readArrowRows } from './arrow.ts';
import { AtomicFile } from './atomic.ts';
import { readJsonLines, type OnBadRecord } from './lines.ts';
import { ParquetRowWriter, corpusSchemaFields, readParquetRows } from './parquet.ts';
import { formatTsvField, readTsv } from './tsv.ts';
import { corpusHeaderLayout, type CorpusColumns } from './corpus-columns.ts';

export { CORPUS_COLUMN_LAYOUTS, corpusColumnsOptions, type CorpusColumns } from './corpus-columns.ts';

export type CorpusFormat = 'jsonl' | 'tsv' | 'parquet';
export const CORPUS_FORMATS: readonly CorpusFormat[] = ['jsonl', 'tsv', 'parquet'];

/** The corpus format a path implies (.jsonl, .tsv, .parquet; a trailing .gz is ignored). */
export function corpusFormatFromPath(file: string, explicit?: string): CorpusFormat {
  if (explicit) {
    if (!(CORPUS_FORMATS as readonly string[]).includes(explicit)) {
      throw new UsageError(`unknown corpus format "${explicit}"; expected one of ${CORPUS_FORMATS.join(', ')}`);
    }
    return explicit as CorpusFormat;
  }
  const ext = extname(file.replace(/\.gz$/, '')).toLowerCase();
  if (ext === '.jsonl' || ext === '.json') return 'jsonl';
  if (ext === '.tsv' || ext === '.txt') return 'tsv';
  if (ext === '.parquet') return 'parquet';
  throw new UsageError(`${file}: cannot tell the corpus format from "${ext}"; use .jsonl, .tsv or .parquet`);
}

export interface CorpusWriter {
  write(passage: Passage): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
  readonly count: number;
}

/**
 * Opens an atomic corpus writer. TSV is DPR's psgs_w100 layout with its `id text title` header.
 * @example
 * const out = await openCorpusWriter('corpus.parquet'); await out.write({ passage_id: '1', title: 'T', text: '...' }); await out.close();
 */
export async function openCorpusWriter(file: string, format: CorpusFormat = corpusFormatFromPath(file)): Promise<CorpusWriter> {
  let count = 0;
  if (format === 'parquet') {
    const pq = await ParquetRowWriter.create(file, corpusSchemaFields, 8192);
    return {
      get count() {
        return count;
      },
      async write(p) {
        count++;
        await pq.append({ passage_id: p.passage_id, title: p.title, text: p.text });
      },
      close: () => pq.close(),
      abort: () => pq.abort(),
    };
  }
  const out = await AtomicFile.create(file);
  if (format === 'tsv') await out.write('id\ttext\ttitle\n');
  return {
    get count() {
      return count;
    },
    async write(p) {
      count++;
      if (format === 'tsv') await out.write(`${formatTsvField(p.passage_id)}\t${formatTsvField(p.text)}\t${formatTsvField(p.title)}\n`);
      else await out.write(JSON.stringify({ passage_id: p.passage_id, title: p.title, text: p.text }) + '\n');
    },
    close: () => out.commit(),
    abort: () => out.abort(),
  };
}

const ID_KEYS = ['passage_id', 'id', '_id', 'docid', 'pid'] as const;

/** Passage from a JSON object: ids under passage_id|id|_id|docid|pid; text under text|contents. */
export function passageFromJson(obj: unknown, file: string, where: string): Passage {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InputError(file, where, undefined, 'expected a JSON object');
  const o = obj as Record<string, unknown>;
  const idKey = ID_KEYS.find((k) => o[k] !== undefined && o[k] !== null);
  if (!idKey) throw new InputError(file, where, 'passage_id', `missing passage id (looked for ${ID_KEYS.join(', ')})`);
  const id = o[idKey];
  if (typeof id !== 'string' && typeof id !== 'number') throw new InputError(file, where, idKey, 'expected a string or number');
  let title = o.title ?? '';
  let text = o.text;
  if (text === undefined && typeof o.contents === 'string') {
    // pyserini's DPR-wiki JsonCollection stores "title\ttext" in one contents field.
    const tab = o.contents.indexOf('\t');
    if (tab >= 0 && o.title === undefined) {
      title = o.contents.slice(0, tab);
      text = o.contents.slice(tab + 1);
    } else text = o.contents;
  }
  if (typeof text !== 'string') throw new InputError(file, where, 'text', 'expected a string');
  if (typeof title !== 'string') throw new InputError(file, where, 'title', 'expected a string');
  return { passage_id: String(id), title, text };
}

/** Maps the fields of one TSV row to a passage by a layout of 2 or 3 columns. */
function passageFromFields(fields: readonly string[], layout: readonly string[]): Passage {
  const p: Passage = { passage_id: '', title: '', text: '' };
  layout.forEach((col, i) => {
    if (col === 'id') p.passage_id = fields[i];
    else if (col === 'title') p.title = fields[i];
    else p.text = fields[i];
  });
  return p;
}

/**
 * Streams the passages of a corpus file. TSV: 2 columns `pid\tpassage` (MS MARCO collection, empty
 * title), or 3 columns laid out as a header row says (`id\ttext\ttitle`, DPR's psgs_w100, or
 * `id\ttitle\ttext`) or as `columns` declares; a headerless 3-column file without a declaration
 * is an error, never a guess.
 * @example
 * for await (const p of readCorpus('psgs_w100.tsv')) console.log(p.passage_id, p.title);
 * for await (const p of readCorpus('corpus.tsv', { columns: 'id,title,text' })) console.log(p.title);
 */
export async function* readCorpus(
  file: string,
  opts: { format?: CorpusFormat | 'arrow'; columns?: CorpusColumns; onRawBytes?: (n: number) => void; onBad?: OnBadRecord } = {},
): AsyncGenerator<Passage> {
  const format = opts.format ?? (ARROW_EXTENSION.test(file) ? 'arrow' : corpusFormatFromPath(file));
  const { onBad } = opts;
  // A bad passage stops the read, or with onBad (--skip-bad) is reported and left out.
  const checked = (make: () => Passage): Passage | undefined => {
    try {
      return make();
    } catch (err) {
      if (!onBad || !(err instanceof InputError)) throw err;
      onBad(err);
      return undefined;
    }
  };
  if (format === 'parquet' || format === 'arrow') {
    let i = 0;
    for await (const row of format === 'arrow' ? readArrowRows(file) : readParquetRows(file)) {
      const p = checked(() => passageFromJson(row, file, `row ${i++}`));
      if (p) yield p;
    }
    return;
  }
  if (format === 'jsonl') {
    for await (const { value, where } of readJsonLines(file, opts.onRawBytes, onBad)) {
      const p = checked(() => passageFromJson(value, file, where));
      if (p) yield p;
    }
    return;
  }
  let layout: string[] | null = opts.columns ? opts.columns.split(',') : null;
  let first = true;
  for await (const { lineNo, fields } of readTsv(file, opts.onRawBytes, onBad)) {
    if (first) {
      first = false;
      const header = corpusHeaderLayout(fields);
      if (header !== null) {
        if (opts.columns && header !== opts.columns) {
          throw new InputError(file, `line ${lineNo}`, undefined, `the header row says ${header} but --columns says ${opts.columns}`);
        }
        layout = header.split(',');
        continue;
      }
      if (layout === null && fields.length === 2) layout = ['id', 'text'];
      if (layout === null && fields.length === 3) {
        throw new InputError(file, `line ${lineNo}`, undefined, `3 tab-separated columns and no header row: pass --columns id,text,title (DPR psgs_w100) or --columns id,title,text (OpenMatch/RocketQA), or add a header row`);
      }
    }
    const p = checked(() => {
      if (layout === null || fields.length !== layout.length) {
        const expected = layout ? `${layout.length} (${layout.join(', ')})` : '2 (pid, passage) or 3 (declared with --columns)';
        throw new InputError(file, `line ${lineNo}`, undefined, `expected ${expected} tab-separated fields, got ${fields.length}`);
      }
      return passageFromFields(fields, layout);
    });
    if (p) yield p;
  }
}
