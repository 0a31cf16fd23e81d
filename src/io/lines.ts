/**
 * Streams the lines of a text file, gzip or not (detected by magic bytes, not by name),
 * with a UTF-8 BOM removed and CRLF line ends accepted. Memory stays flat whatever the size.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { InputError } from '../util/errors.ts';

export interface Line {
  /** 1-based line number, for error messages. */
  lineNo: number;
  text: string;
}

/** Throws an InputError naming the file when it is missing or not a regular file. */
export async function assertReadableFile(file: string): Promise<number> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new InputError(file, undefined, undefined, 'not a regular file');
    return s.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(file, undefined, undefined, `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** True when the file starts with the gzip magic bytes 1f 8b. */
export async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/**
 * A byte stream of the file's (decompressed) content. `onRawBytes` reports compressed bytes
 * read, for progress bars measured against the file size.
 */
export async function openByteStream(file: string, onRawBytes?: (n: number) => void): Promise<Readable> {
  await assertReadableFile(file);
  const gzip = await isGzip(file);
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  // A 'data' listener starts the flow at once: the gunzip pipe must be attached in the same tick,
  // or the chunks read while awaiting would be lost (truncated gzip input).
  if (onRawBytes) {
    // Count file bytes, not chunk lengths: readLines sets an encoding, and then chunks are strings.
    let counted = 0;
    raw.on('data', () => {
      onRawBytes(raw.bytesRead - counted);
      counted = raw.bytesRead;
    });
  }
  return gzip ? raw.pipe(createGunzip()) : raw;
}

/** Yields each line (without its line end). A BOM at the start of the file is dropped. */
export async function* readLines(file: string, onRawBytes?: (n: number) => void): AsyncGenerator<Line> {
  const input = await openByteStream(file, onRawBytes);
  input.setEncoding('utf8');
  const rl = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    yield { lineNo, text: lineNo === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line };
  }
}

/** One parsed line of a JSON-lines file. */
export interface JsonLine {
  lineNo: number;
  /** `line N`, the record locator errors use. */
  where: string;
  value: unknown;
}

/** Parses one JSON line; a syntax error becomes an InputError naming the file and line. */
export function parseJsonLine(text: string, file: string, lineNo: number): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(file, `line ${lineNo}`, undefined, `invalid JSON (${(err as Error).message})`);
  }
}

/**
 * Yields the parsed values of a JSON-lines file (gzip or not), blank lines skipped; an invalid
 * line is an InputError naming the file and line.
 * @example for await (const { value, where } of readJsonLines('corpus.jsonl')) check(value, where);
 */
export async function* readJsonLines(file: string, onRawBytes?: (n: number) => void): AsyncGenerator<JsonLine> {
  for await (const { lineNo, text } of readLines(file, onRawBytes)) {
    if (text.trim() === '') continue;
    yield { lineNo, where: `line ${lineNo}`, value: parseJsonLine(text, file, lineNo) };
  }
}
