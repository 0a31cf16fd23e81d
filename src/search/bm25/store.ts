/**
 * Passage store beside the postings: one JSON line per doc plus a byte-offset table, so a hit's
 * passage is one positioned read (served by the OS page cache) and no texts sit on the heap.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Passage } from '../../types.ts';

/** Reads a whole file into an ArrayBuffer, shared between worker threads when asked. */
export function readFileBuffer(path: string, shared: boolean): ArrayBuffer | SharedArrayBuffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size);
    let done = 0;
    while (done < size) {
      // readSync takes at most 2 GiB per call, and a Uint8Array spans at most 2³² bytes (the buffer
      // can be larger: a 21M-passage index's postings are about 7 GB), so each read gets its own view.
      const n = readSync(fd, new Uint8Array(buf, done, Math.min(size - done, 1 << 30)), 0, Math.min(size - done, 1 << 30), done);
      if (n === 0) throw new Error(`${path}: file shrank while reading (${done} of ${size} bytes)`);
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * Random access to stored passages by doc number.
 * @example const store = new PassageStore('idx/store.bin', offsets); store.get(12).passage_id
 */
export class PassageStore {
  private readonly fd: number;
  private scratch = Buffer.alloc(1 << 16);

  constructor(
    readonly path: string,
    /** Float64 × (docs + 1) line offsets (store.f64). */
    private readonly offsets: Float64Array,
  ) {
    this.fd = openSync(path, 'r');
  }

  get size(): number {
    return this.offsets.length - 1;
  }

  /** The passage stored for doc `doc` (0-based corpus order). */
  get(doc: number): Passage {
    const [passage_id, title, text] = JSON.parse(this.readLine(doc)) as [string, string, string];
    return { passage_id, title, text };
  }

  private readLine(doc: number): string {
    if (!(doc >= 0 && doc < this.size)) throw new RangeError(`doc ${doc} outside the store (0..${this.size - 1})`);
    const start = this.offsets[doc];
    const len = this.offsets[doc + 1] - start;
    if (len > this.scratch.length) this.scratch = Buffer.alloc(len * 2);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, this.scratch, got, len - got, start + got);
      if (n === 0) throw new Error(`${this.path}: truncated at doc ${doc}`);
      got += n;
    }
    return this.scratch.toString('utf8', 0, len);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Passage ids by doc number from an in-memory (shareable) byte table: hits are named without
 * reading the store.
 * @example new PassageIds(bytes, offsets).get(12) // 'Super_Bowl_50-3'
 */
export class PassageIds {
  private readonly bytes: Buffer;
  constructor(
    bytes: ArrayBuffer | SharedArrayBuffer,
    private readonly offsets: Float64Array,
  ) {
    this.bytes = Buffer.from(bytes);
  }
  get size(): number {
    return this.offsets.length - 1;
  }
  get(doc: number): string {
    if (!(doc >= 0 && doc < this.size)) throw new RangeError(`doc ${doc} outside the id table (0..${this.size - 1})`);
    return this.bytes.toString('utf8', this.offsets[doc], this.offsets[doc + 1]);
  }
}

/** 32-bit FNV-1a over UTF-16 code units: the id-table hash (stable across runs and platforms). */
export function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * passage_id → doc number through the sorted (hash, doc) table; candidates with the same hash
 * are confirmed against the id table.
 */
export function lookupDoc(ids: Uint32Array, pids: PassageIds, passageId: string): number | undefined {
  const h = idHash(passageId);
  let lo = 0;
  let hi = ids.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[2 * mid] < h) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < ids.length / 2 && ids[2 * i] === h; i++) {
    const doc = ids[2 * i + 1];
    if (pids.get(doc) === passageId) return doc;
  }
  return undefined;
}
