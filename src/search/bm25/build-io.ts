/**
 * Binary file I/O of the index builder: growable typed arrays, a buffered sequential writer, the
 * sorted runs it spills (write and read back) and whole typed-array files. All little-endian, as
 * the typed arrays are on every platform Node runs on.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { injectedFault } from '../../io/atomic.ts';

/** Growable typed array with amortized doubling. */
export class Grow<T extends Uint32Array | Float64Array> {
  length = 0;
  constructor(
    public data: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

export const growU32 = (): Grow<Uint32Array> => new Grow(new Uint32Array(1024), (n) => new Uint32Array(n));
export const growF64 = (): Grow<Float64Array> => new Grow(new Float64Array(1024), (n) => new Float64Array(n));

export const bytesOf = (a: Uint32Array | Uint16Array | Float32Array | Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Buffered sequential writer to a new file. */
export class BinWriter {
  private readonly fd: number;
  private readonly buf: Buffer;
  private used = 0;
  bytes = 0;
  constructor(
    private readonly path: string,
    size = 1 << 22,
  ) {
    injectedFault(path, 'open', 0);
    this.fd = openSync(path, 'w');
    this.buf = Buffer.alloc(size);
  }
  write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, this.buf.length - this.used);
      this.buf.set(bytes.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === this.buf.length) this.flush();
    }
    this.bytes += bytes.length;
  }
  writeString(s: string): void {
    // Fast path: encode straight into the buffer when it fits.
    if (this.buf.length - this.used >= s.length * 3) {
      const n = this.buf.write(s, this.used, 'utf8');
      this.used += n;
      this.bytes += n;
    } else this.write(Buffer.from(s, 'utf8'));
  }
  flush(): void {
    injectedFault(this.path, 'write', this.used);
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Writes a whole typed array as a file. */
export function writeTyped(path: string, a: Uint32Array | Float64Array | Float32Array): void {
  const w = new BinWriter(path);
  w.write(bytesOf(a));
  w.close();
}

/** Sequential reader of a typed region of a run file, refilled in chunks. */
export class RunReader {
  private pos: number;
  private chunk: Uint8Array;
  private avail = 0;
  private at = 0;
  constructor(
    private readonly fd: number,
    start: number,
    private readonly width: 2 | 4,
    chunkItems = 1 << 18,
  ) {
    this.pos = start;
    this.chunk = new Uint8Array(chunkItems * width);
  }
  /** Next value (little-endian). */
  next(): number {
    if (this.at === this.avail) {
      this.avail = readSync(this.fd, this.chunk, 0, this.chunk.length, this.pos);
      this.pos += this.avail;
      this.at = 0;
      if (this.avail === 0) throw new Error('bm25 build: run file ended early');
    }
    const c = this.chunk;
    const i = this.at;
    this.at += this.width;
    return this.width === 4 ? (c[i] | (c[i + 1] << 8) | (c[i + 2] << 16) | (c[i + 3] << 24)) >>> 0 : c[i] | (c[i + 1] << 8);
  }
}

/** A spilled run on disk: `vocab` terms (the dictionary's size when it was spilled), `postings` postings. */
export interface RunFile {
  path: string;
  vocab: number;
  postings: number;
}

/** Writes a run: postings per term (u32 × vocab), then docs (u32) and tfs (u16), grouped by term. */
export function writeRun(path: string, counts: Uint32Array, docs: Uint32Array, tfs: Uint16Array): void {
  const w = new BinWriter(path);
  w.write(bytesOf(counts));
  w.write(bytesOf(docs));
  w.write(bytesOf(tfs));
  w.close();
}

/** An open run read back term by term: the `counts[t]` (doc, tf) pairs of term t come next from `docs` and `tfs`. */
export interface RunCursor {
  counts: Uint32Array;
  docs: RunReader;
  tfs: RunReader;
  close(): void;
}

export function openRun(run: RunFile): RunCursor {
  const fd = openSync(run.path, 'r');
  const counts = new Uint32Array(run.vocab);
  readSync(fd, bytesOf(counts), 0, counts.byteLength, 0);
  const docs = new RunReader(fd, counts.byteLength, 4);
  const tfs = new RunReader(fd, counts.byteLength + run.postings * 4, 2);
  return { counts, docs, tfs, close: () => closeSync(fd) };
}
