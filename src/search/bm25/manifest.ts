/**
 * Integrity of an index directory. header.json lists every other file of the index with its size
 * and sha256 (`files`) and seals itself with `checksum`, the sha256 of its own text without that
 * field; opening an index checks the seal and every file's size, then (by default) every file's
 * sha256, so a flipped or truncated file is refused by name instead of giving NaN scores,
 * garbage passage ids or corrupted negative texts.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { InputError } from '../../util/errors.ts';
import { FILES, type Bm25Header, type IndexFile } from './format.ts';
import { sha256Bytes } from '../../util/sha256.ts';

/** Every file of an index but header.json: what `header.files` must list. */
export const DATA_FILES = Object.values(FILES).filter((f) => f !== FILES.header);

/** What to do about a damaged index, for messages. */
export function rebuildHint(header?: Pick<Bm25Header, 'source'>): string {
  const corpus = header?.source?.file ?? '<corpus>';
  return `the index is damaged; rebuild it with "dprep index bm25 --corpus ${corpus} --out <this index>"`;
}

/** Size and sha256 of a file, read in 4 MiB chunks (synchronously: opening an index is synchronous). */
export function hashFileSync(path: string): IndexFile {
  const fd = openSync(path, 'r');
  try {
    const hash = createHash('sha256');
    const buf = Buffer.alloc(1 << 22);
    let bytes = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, bytes);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
    return { bytes, sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

/** Size and sha256 of every data file the builder left in `dir`; anything else there is a builder bug. */
export function describeFiles(dir: string): Record<string, IndexFile> {
  const present = readdirSync(dir).filter((f) => f !== FILES.header).sort();
  const expected = [...DATA_FILES].sort();
  if (present.join('\n') !== expected.join('\n')) throw new Error(`bm25 build: ${dir} holds ${present.join(', ')}, expected ${expected.join(', ')}`);
  const files: Record<string, IndexFile> = {};
  for (const name of expected) files[name] = hashFileSync(join(dir, name));
  return files;
}

/** The header's text, sealed: `checksum` is the sha256 of the same JSON without it. */
export function sealHeader(header: Omit<Bm25Header, 'checksum'>): string {
  const { checksum: _drop, ...body } = header as Bm25Header;
  return JSON.stringify({ ...body, checksum: headerChecksum(body) }, null, 2) + '\n';
}

function headerChecksum(body: Omit<Bm25Header, 'checksum'>): string {
  return createHash('sha256').update(JSON.stringify(body, null, 2)).digest('hex');
}

/** Throws unless the parsed header's checksum matches its content and `files` lists every data file. */
export function checkHeaderSeal(path: string, header: Bm25Header): void {
  const { checksum, ...body } = header;
  if (typeof checksum !== 'string') throw new InputError(path, undefined, 'checksum', `missing: ${rebuildHint(header)}`);
  const got = headerChecksum(body);
  if (got !== checksum) throw new InputError(path, undefined, 'checksum', `header.json's content does not match its checksum (${got} vs ${checksum}): ${rebuildHint(header)}`);
  for (const name of DATA_FILES) {
    const f = header.files?.[name];
    if (!f || !Number.isSafeInteger(f.bytes) || f.bytes < 0 || typeof f.sha256 !== 'string') {
      throw new InputError(path, undefined, 'files', `no size and sha256 for ${name}: ${rebuildHint(header)}`);
    }
  }
}

/** Throws naming the first data file whose size is not the one header.json records (or that is missing). */
export function checkFileSizes(dir: string, header: Bm25Header): void {
  for (const name of DATA_FILES) {
    const path = join(dir, name);
    const size = statSize(path);
    const want = header.files[name].bytes;
    if (size !== want) throw new InputError(path, undefined, undefined, `expected ${want} bytes as header.json says, found ${size < 0 ? 'no file' : size}: ${rebuildHint(header)}`);
  }
}

/** Throws naming the file when `data` (the file's bytes, read whole) does not hash to header.json's sha256. */
export function checkBytes(dir: string, name: string, header: Bm25Header, data: ArrayBuffer | SharedArrayBuffer | Uint8Array): void {
  const want = header.files[name];
  if (data.byteLength !== want.bytes) throw new InputError(join(dir, name), undefined, undefined, `expected ${want.bytes} bytes as header.json says, read ${data.byteLength}: ${rebuildHint(header)}`);
  const got = sha256Bytes(data);
  if (got !== want.sha256) throw new InputError(join(dir, name), undefined, undefined, `sha256 ${got} does not match header.json (${want.sha256}): ${rebuildHint(header)}`);
}

/** Throws naming the file when it does not hash to header.json's sha256 (streamed: for files not held in memory). */
export function checkFileHash(dir: string, name: string, header: Bm25Header): void {
  const want = header.files[name];
  const got = hashFileSync(join(dir, name));
  if (got.bytes !== want.bytes || got.sha256 !== want.sha256) {
    throw new InputError(join(dir, name), undefined, undefined, `sha256 ${got.sha256} (${got.bytes} bytes) does not match header.json (${want.sha256}, ${want.bytes} bytes): ${rebuildHint(header)}`);
  }
}

function statSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}
