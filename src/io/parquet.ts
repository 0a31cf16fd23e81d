/**
 * Parquet through parquetjs-lite: row-group streaming reads and atomic writes (temp + rename).
 * Corpora use a flat schema {passage_id, title, text}; DPR records nest their ctx lists as
 * repeated groups, so other Parquet readers see real lists of structs.
 */
import { rename } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { removeTemp, tempPathFor } from './atomic.ts';
import { forgetTemp } from './temps.ts';

// parquetjs-lite ships no types; this is the part of its API dprep uses.
interface ParquetModule {
  ParquetSchema: new (fields: Record<string, unknown>) => unknown;
  ParquetWriter: { openFile(schema: unknown, path: string, opts?: Record<string, unknown>): Promise<PqWriter> };
  ParquetReader: { openFile(path: string): Promise<PqReader> };
}
interface PqWriter {
  appendRow(row: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
  setRowGroupSize(n: number): void;
}
interface PqReader {
  getCursor(): { next(): Promise<Record<string, unknown> | null> };
  getRowCount(): number | bigint | { toNumber(): number };
  close(): Promise<void>;
}

let loaded: ParquetModule | undefined;
async function parquet(): Promise<ParquetModule> {
  // @ts-ignore parquetjs-lite has no type declarations
  loaded ??= ((await import('parquetjs-lite')) as { default: ParquetModule }).default;
  return loaded;
}

const ctxFields = {
  title: { type: 'UTF8' },
  text: { type: 'UTF8' },
  score: { type: 'DOUBLE', optional: true },
  title_score: { type: 'DOUBLE', optional: true },
  passage_id: { type: 'UTF8' },
};

export const corpusSchemaFields = {
  passage_id: { type: 'UTF8' },
  title: { type: 'UTF8' },
  text: { type: 'UTF8' },
};

export const recordSchemaFields = {
  dataset: { type: 'UTF8' },
  id: { type: 'UTF8', optional: true },
  question: { type: 'UTF8' },
  answers: { type: 'UTF8', repeated: true },
  positive_ctxs: { repeated: true, fields: ctxFields },
  negative_ctxs: { repeated: true, fields: ctxFields },
  hard_negative_ctxs: { repeated: true, fields: ctxFields },
};

/** A Parquet file written row by row that appears under its name only on `close()`. */
export class ParquetRowWriter {
  private constructor(
    private readonly writer: PqWriter,
    private readonly tempPath: string,
    private readonly target: string,
  ) {}

  static async create(target: string, fields: Record<string, unknown>, rowGroupSize = 4096): Promise<ParquetRowWriter> {
    const pq = await parquet();
    await mkdir(dirname(target), { recursive: true });
    const tmp = tempPathFor(target);
    const writer = await pq.ParquetWriter.openFile(new pq.ParquetSchema(fields), tmp, { useDataPageV2: false });
    writer.setRowGroupSize(rowGroupSize);
    return new ParquetRowWriter(writer, tmp, target);
  }

  append(row: Record<string, unknown>): Promise<void> {
    return this.writer.appendRow(row);
  }

  async close(): Promise<void> {
    await this.writer.close();
    await rename(this.tempPath, this.target);
    forgetTemp(this.tempPath);
  }

  async abort(): Promise<void> {
    await this.writer.close().catch(() => undefined);
    await removeTemp(this.tempPath);
  }
}

/** Streams the rows of a Parquet file one row group at a time. */
export async function* readParquetRows(file: string): AsyncGenerator<Record<string, unknown>> {
  const pq = await parquet();
  const reader = await pq.ParquetReader.openFile(file);
  try {
    const cursor = reader.getCursor();
    for (let row = await cursor.next(); row; row = await cursor.next()) yield row;
  } finally {
    await reader.close();
  }
}
