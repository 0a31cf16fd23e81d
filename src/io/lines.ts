/**
 * Streams the lines of a text file, gzip or not (detected by magic bytes, not by name),
 * with a UTF-8 BOM removed, CRLF line ends accepted and invalid UTF-8 refused. Memory stays flat
 * whatever the size (one line at a time).
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
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

/** What a reader does with a bad record when the command runs with --skip-bad: count it (its error names file, record, field). */
export type OnBadRecord = (err: InputError) => void;

// ignoreBOM: a BOM is dropped only at the start of a file (readLines), never at the start of every line.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes strict UTF-8; invalid bytes are an InputError naming the byte, never U+FFFD put in silently. */
export function decodeUtf8(bytes: Uint8Array, file: string, where: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new InputError(file, where, undefined, `invalid UTF-8 (byte 0x${bytes[at].toString(16).padStart(2, '0')} at byte ${at + 1}); re-encode the file as UTF-8`);
  }
}

/** Offset of the first byte that does not belong to a valid UTF-8 sequence (bytes.length when all are valid). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > bytes.length) return i;
    for (let k = 1; k < len; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return i;
    // Overlong 3/4-byte forms, UTF-16 surrogates and code points past U+10FFFF.
    const b1 = bytes[i + 1];
    if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f) || (b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 > 0x8f)) return i;
    i += len;
  }
  return i;
}

/**
 * Yields each line (without its line end: LF or CRLF). A BOM at the start of the file is
 * dropped. Lines are split on bytes and decoded as strict UTF-8: a line with invalid bytes is an
 * InputError naming the file and line, or, with `onBad`, reported and left out. A line may be of
 * any length (a 50 MB line is read whole). `keepCr` keeps the CR of a CRLF (for TSV, where a
 * quoted field may hold a CRLF of its own).
 */
export async function* readLines(file: string, onRawBytes?: (n: number) => void, onBad?: OnBadRecord, keepCr = false): AsyncGenerator<Line> {
  const input = (await openByteStream(file, onRawBytes)) as AsyncIterable<Buffer>;
  let lineNo = 0;
  let parts: Buffer[] = [];
  const decode = (line: Buffer): string | undefined => {
    lineNo++;
    let start = 0;
    let end = line.length;
    if (lineNo === 1 && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) start = 3;
    if (!keepCr && end > start && line[end - 1] === 0x0d) end--;
    try {
      return decodeUtf8(line.subarray(start, end), file, `line ${lineNo}`);
    } catch (err) {
      if (!onBad || !(err instanceof InputError)) throw err;
      onBad(err);
      return undefined;
    }
  };
  for await (const chunk of input) {
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      const piece = chunk.subarray(from, nl);
      const line = parts.length ? Buffer.concat([...parts, piece]) : piece;
      parts = [];
      from = nl + 1;
      const text = decode(line);
      if (text !== undefined) yield { lineNo, text };
    }
    if (from < chunk.length) parts.push(chunk.subarray(from));
  }
  if (parts.length) {
    const text = decode(Buffer.concat(parts));
    if (text !== undefined) yield { lineNo, text };
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
 * line is an InputError naming the file and line (with `onBad`: reported, left out).
 * @example for await (const { value, where } of readJsonLines('corpus.jsonl')) check(value, where);
 */
export async function* readJsonLines(file: string, onRawBytes?: (n: number) => void, onBad?: OnBadRecord): AsyncGenerator<JsonLine> {
  for await (const { lineNo, text } of readLines(file, onRawBytes, onBad)) {
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = parseJsonLine(text, file, lineNo);
    } catch (err) {
      if (!onBad || !(err instanceof InputError)) throw err;
      onBad(err);
      continue;
    }
    yield { lineNo, where: `line ${lineNo}`, value };
  }
}
