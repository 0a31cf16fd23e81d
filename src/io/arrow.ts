/**
 * Arrow IPC in, through apache-arrow: the stream format, which Hugging Face `datasets` writes
 * (`save_to_disk` → `data-00000-of-00001.arrow`), and the file format (Feather v2, `.feather`).
 * Rows come one record batch at a time, never the whole table: the file is opened as a handle so
 * apache-arrow reads the file format's footer and then each batch by offset (given a byte stream
 * instead, it would read a whole IPC file into memory).
 */
import { open } from 'node:fs/promises';
import type { RecordBatch, Vector } from 'apache-arrow';
import { InputError } from '../util/errors.ts';
import { assertReadableFile } from './lines.ts';

type ArrowModule = typeof import('apache-arrow');
let loaded: ArrowModule | undefined;
async function arrow(): Promise<ArrowModule> {
  // Loaded on first use: most runs never read Arrow, and the module is large.
  loaded ??= await import('apache-arrow');
  return loaded;
}

/** Paths read as Arrow IPC by extension (HF datasets shards, Feather v2). */
export const ARROW_EXTENSION = /\.(arrow|feather)$/i;

/** True when the first bytes are an Arrow IPC file ("ARROW1") or stream (continuation marker 0xFFFFFFFF). */
export function isArrowMagic(head: Uint8Array): boolean {
  if (head.length >= 6 && Buffer.from(head.subarray(0, 6)).toString('latin1') === 'ARROW1') return true;
  return head.length >= 4 && head[0] === 0xff && head[1] === 0xff && head[2] === 0xff && head[3] === 0xff;
}

/**
 * Streams the rows of an Arrow IPC stream or file as plain objects: lists become arrays, structs
 * objects, 64-bit integers numbers (strings past 2^53), nulls null — what the Parquet reader gives.
 * @example
 * for await (const row of readArrowRows('squad/train/data-00000-of-00001.arrow')) console.log(row.question);
 */
export async function* readArrowRows(file: string): AsyncGenerator<Record<string, unknown>> {
  await assertReadableFile(file);
  const { RecordBatchReader, Vector } = await arrow();
  const handle = await open(file, 'r');
  try {
    let reader;
    try {
      reader = await RecordBatchReader.from(handle);
      await reader.open();
    } catch (err) {
      throw new InputError(file, undefined, undefined, `not an Arrow IPC stream or file (${(err as Error).message})`);
    }
    const batches = (reader as AsyncIterable<RecordBatch>)[Symbol.asyncIterator]();
    for (let row = 0; ; ) {
      let next: IteratorResult<RecordBatch>;
      try {
        next = await batches.next();
      } catch (err) {
        // A truncated or corrupt batch: the rows before it were good and already given out.
        throw new InputError(file, `row ${row}`, undefined, `truncated or corrupt Arrow IPC data (${(err as Error).message})`);
      }
      if (next.done) break;
      const batch = next.value;
      const names = batch.schema.fields.map((f) => f.name);
      const columns = names.map((_, j) => batch.getChildAt(j) as Vector);
      for (let i = 0; i < batch.numRows; i++, row++) {
        const out: Record<string, unknown> = {};
        for (let j = 0; j < names.length; j++) out[names[j]] = plain(columns[j].get(i), Vector);
        yield out;
      }
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function plain(value: unknown, VectorClass: ArrowModule['Vector']): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
  if (typeof value !== 'object') return value;
  if (value instanceof VectorClass) return Array.from(value as Iterable<unknown>, (v) => plain(v, VectorClass));
  if (ArrayBuffer.isView(value) || value instanceof Date) return value;
  // Struct and map rows: their JSON form holds the raw child values, converted in turn.
  const json = (value as { toJSON?: () => unknown }).toJSON?.() ?? value;
  if (json instanceof Map) return Object.fromEntries([...json].map(([k, v]) => [String(k), plain(v, VectorClass)]));
  return Object.fromEntries(Object.entries(json as Record<string, unknown>).map(([k, v]) => [k, plain(v, VectorClass)]));
}
