/**
 * Builds a BM25 index directory (layout in format.ts) from a stream of passages in bounded memory.
 *
 * One pass over the corpus analyzes each passage into term ids and appends (term, doc, tf)
 * postings to a segment buffer; a full buffer is counting-sorted by term and spilled to disk as
 * a run. Docs arrive in increasing order, so each run's postings are already doc-ordered per term
 * and the final merge is a concatenation per term across runs (no heap), computing each
 * posting's BM25 impact once df, doc lengths and avgdl are known. Memory: the segment buffer, the
 * term dictionary, and 4 bytes per doc of lengths, whatever the corpus size.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync, renameSync, existsSync, statSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { Passage } from '../../types.ts';
import { createAnalyzer, type AnalyzerConfig } from '../../text/analyzer.ts';
import { Worker } from 'node:worker_threads';
import { BatchAnalyzer, type AnalyzedBatch, type PassageBatch } from './analyze-batch.ts';
import { InputError } from '../../util/errors.ts';
import { Progress } from '../../util/progress.ts';
import { DPREP_VERSION } from '../../version.ts';
import { bm25Impact, FILES, INDEX_FORMAT, INDEX_FORMAT_VERSION, type Bm25Header, type Bm25Params } from './format.ts';
import { PassageIds, readFileBuffer } from './store.ts';

export interface BuildOptions extends Partial<Bm25Params> {
  analyzer?: Partial<AnalyzerConfig>;
  /** Index the title's terms too (DPR's BM25 indexes "title text"); default true. */
  indexTitle?: boolean;
  /** Postings held in memory before a run is spilled (10 bytes each); default 16M (160 MB). */
  segmentPostings?: number;
  /** Recorded in the header and used in error messages. */
  sourceFile?: string;
  /** Worker threads analyzing passages (0: analyze on this thread); the files are the same for any count. Default 0. */
  threads?: number;
  /** Passages per analysis batch; default 512. */
  batchSize?: number;
  /** Called once per passage indexed (progress). */
  onPassage?: () => void;
}

/** What a build reports back (also in header.json). */
export interface BuildStats {
  header: Bm25Header;
  segments: number;
  seconds: number;
  /** Of `seconds`, the time spent merging runs and computing impacts. */
  mergeSeconds: number;
}

/** Growable typed array with amortized doubling. */
class Grow<T extends Uint32Array | Float64Array> {
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

/** Buffered sequential writer over a file descriptor. */
class BinWriter {
  private readonly buf: Buffer;
  private used = 0;
  bytes = 0;
  constructor(
    private readonly fd: number,
    size = 1 << 22,
  ) {
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
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Sequential reader of a typed region of a run file, refilled in chunks. */
class RunReader {
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

const bytesOf = (a: Uint32Array | Uint16Array | Float32Array | Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Builds an index into `dir` (replaced atomically: built beside it, then renamed).
 * @example
 * await buildBm25Index(readCorpus('corpus.jsonl'), 'corpus.bm25', { analyzer: { lang: 'en' } });
 */
export async function buildBm25Index(passages: AsyncIterable<Passage> | Iterable<Passage>, dir: string, opts: BuildOptions = {}): Promise<BuildStats> {
  const started = Date.now();
  const params: Bm25Params = { k1: opts.k1 ?? 1.2, b: opts.b ?? 0.75 };
  const analyzer = createAnalyzer(opts.analyzer);
  const indexTitle = opts.indexTitle ?? true;
  const segCap = Math.max(1024, opts.segmentPostings ?? 16 << 20);
  const source = opts.sourceFile ?? '<passages>';

  mkdirSync(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const termIds = new Map<string, number>();
    const termsOut = new BinWriter(openSync(join(tmp, FILES.terms), 'w'));
    const store = new BinWriter(openSync(join(tmp, FILES.store), 'w'));
    const pids = new BinWriter(openSync(join(tmp, FILES.pids), 'w'));
    const pidOffsets = new Grow(new Float64Array(1024), (n) => new Float64Array(n));
    pidOffsets.push(0);
    const storeOffsets = new Grow(new Float64Array(1024), (n) => new Float64Array(n));
    const doclen = new Grow(new Uint32Array(1024), (n) => new Uint32Array(n));
    const hashes = new Grow(new Uint32Array(1024), (n) => new Uint32Array(n));
    storeOffsets.push(0);

    // Segment buffer: (term, doc, tf) triples in doc order.
    const segTerm = new Uint32Array(segCap);
    const segDoc = new Uint32Array(segCap);
    const segTf = new Uint16Array(segCap);
    let segUsed = 0;
    const runs: { path: string; vocab: number; postings: number }[] = [];

    const spill = (): void => {
      if (segUsed === 0) return;
      const vocab = termIds.size;
      const counts = new Uint32Array(vocab);
      for (let i = 0; i < segUsed; i++) counts[segTerm[i]]++;
      const next = new Float64Array(vocab); // write cursor per term
      let sum = 0;
      for (let t = 0; t < vocab; t++) {
        next[t] = sum;
        sum += counts[t];
      }
      const sortedDoc = new Uint32Array(segUsed);
      const sortedTf = new Uint16Array(segUsed);
      for (let i = 0; i < segUsed; i++) {
        const at = next[segTerm[i]]++;
        sortedDoc[at] = segDoc[i];
        sortedTf[at] = segTf[i];
      }
      const path = join(tmp, `run-${runs.length}.bin`);
      const w = new BinWriter(openSync(path, 'w'));
      w.write(bytesOf(counts));
      w.write(bytesOf(sortedDoc));
      w.write(bytesOf(sortedTf));
      w.close();
      runs.push({ path, vocab, postings: segUsed });
      segUsed = 0;
    };

    // Global term ids in first-occurrence order: each analyzer thread's local ids map to global
    // ones as its batches are consumed in corpus order. A term first seen in batch k is new to
    // whichever thread analyzed batch k, and the batch lists its new terms in first-occurrence
    // order, so the ids equal a single-threaded pass's whatever the thread count.
    const localToGlobal: Grow<Uint32Array>[] = [];
    let totalLength = 0;
    let doc = 0;
    const analyzed = analyzeInOrder(passages, { analyzer: opts.analyzer, indexTitle, threads: opts.threads ?? 0, batchSize: opts.batchSize ?? 512 });
    for await (const { result: r, thread } of analyzed) {
      const map = (localToGlobal[thread] ??= new Grow(new Uint32Array(1024), (n) => new Uint32Array(n)));
      if (map.length !== r.firstNewTerm) throw new Error(`bm25 build: analyzer thread ${thread} batches out of order`);
      for (const term of r.newTerms) {
        let id = termIds.get(term);
        if (id === undefined) {
          id = termIds.size;
          termIds.set(term, id);
          termsOut.writeString(term + '\n');
        }
        map.push(id);
      }
      const toGlobal = map.data;
      const { postingStart, terms, tfs } = r;
      const storeBase = store.bytes;
      const pidBase = pids.bytes;
      for (let i = 0; i < r.docs; i++) {
        const start = postingStart[i];
        const end = postingStart[i + 1];
        if (segUsed + (end - start) > segCap) spill();
        for (let k = start; k < end; k++) {
          segTerm[segUsed] = toGlobal[terms[k]];
          segDoc[segUsed] = doc;
          segTf[segUsed] = tfs[k];
          segUsed++;
        }
        doclen.push(r.lengths[i]);
        totalLength += r.lengths[i];
        hashes.push(r.hashes[i]);
        storeOffsets.push(storeBase + r.storeEnds[i]);
        pidOffsets.push(pidBase + r.pidEnds[i]);
        doc++;
        opts.onPassage?.();
      }
      store.write(r.store);
      pids.write(r.pids);
    }
    spill();
    termsOut.close();
    store.close();
    pids.close();
    if (doc === 0) throw new InputError(source, undefined, undefined, 'the corpus has no passages');
    if (doc > 0xffffffff) throw new Error('bm25 build: more than 2^32 passages');

    const docs = doc;
    const avgdl = totalLength / docs;
    const lengths = doclen.view();
    const offsetsArr = storeOffsets.view();
    writeTyped(join(tmp, FILES.doclen), lengths);
    writeTyped(join(tmp, FILES.storeOffsets), offsetsArr);
    writeTyped(join(tmp, FILES.pidOffsets), pidOffsets.view());

    checkDuplicateIds(tmp, hashes.view(), pidOffsets.view(), source);

    // Merge: per term, concatenate each run's postings (runs are in doc order).
    const mergeStarted = Date.now();
    const vocab = termIds.size;
    termIds.clear();
    const runCounts = runs.map((r) => {
      const fd = openSync(r.path, 'r');
      const counts = new Uint32Array(r.vocab);
      readSync(fd, bytesOf(counts), 0, counts.byteLength, 0);
      const docsReader = new RunReader(fd, counts.byteLength, 4);
      const tfReader = new RunReader(fd, counts.byteLength + r.postings * 4, 2);
      return { fd, counts, docsReader, tfReader };
    });
    const offsets = new Float64Array(vocab + 1);
    const maxImpacts = new Float32Array(vocab);
    const docsOut = new BinWriter(openSync(join(tmp, FILES.docs), 'w'));
    const impactsOut = new BinWriter(openSync(join(tmp, FILES.impacts), 'w'));
    const docBuf = new Uint32Array(1 << 16);
    const impBuf = new Float32Array(1 << 16);
    let postings = 0;
    const merge = new Progress('bm25 index: merging', { total: vocab, unit: 'terms' });
    for (let t = 0; t < vocab; t++) {
      offsets[t] = postings;
      let df = 0;
      for (const r of runCounts) if (t < r.counts.length) df += r.counts[t];
      const idf = Math.log(1 + (docs - df + 0.5) / (df + 0.5));
      let n = 0;
      for (const r of runCounts) {
        const c = t < r.counts.length ? r.counts[t] : 0;
        for (let i = 0; i < c; i++) {
          const d = r.docsReader.next();
          const tf = r.tfReader.next();
          const norm = 1 - params.b + params.b * (lengths[d] / avgdl);
          docBuf[n] = d;
          // Same arithmetic as bm25Impact(), with idf hoisted out of the loop.
          impBuf[n] = (idf * (tf * (params.k1 + 1))) / (tf + params.k1 * norm);
          if (impBuf[n] > maxImpacts[t]) maxImpacts[t] = impBuf[n];
          if (++n === docBuf.length) {
            docsOut.write(bytesOf(docBuf));
            impactsOut.write(bytesOf(impBuf));
            n = 0;
          }
        }
      }
      if (n > 0) {
        docsOut.write(bytesOf(docBuf.subarray(0, n)));
        impactsOut.write(bytesOf(impBuf.subarray(0, n)));
      }
      postings += df;
      if ((t & 0xffff) === 0xffff) merge.update(t);
    }
    offsets[vocab] = postings;
    merge.update(vocab);
    merge.finish();
    docsOut.close();
    impactsOut.close();
    for (const r of runCounts) closeSync(r.fd);
    for (const r of runs) rmSync(r.path, { force: true });
    writeTyped(join(tmp, FILES.offsets), offsets);
    writeTyped(join(tmp, FILES.maxImpacts), maxImpacts);

    let sourceInfo: Bm25Header['source'] = null;
    if (opts.sourceFile && existsSync(opts.sourceFile)) {
      const st = statSync(opts.sourceFile);
      sourceInfo = { file: opts.sourceFile, bytes: st.size, mtimeMs: st.mtimeMs };
    }
    const header: Bm25Header = {
      format: INDEX_FORMAT,
      version: INDEX_FORMAT_VERSION,
      analyzer: analyzer.config,
      ...params,
      docs,
      terms: vocab,
      postings,
      totalLength,
      avgdl,
      source: sourceInfo,
      indexTitle,
      dprepVersion: DPREP_VERSION,
    };
    const hfd = openSync(join(tmp, FILES.header), 'w');
    writeSync(hfd, JSON.stringify(header, null, 2) + '\n');
    closeSync(hfd);

    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return { header, segments: runs.length, seconds: (Date.now() - started) / 1000, mergeSeconds: (Date.now() - mergeStarted) / 1000 };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function writeTyped(path: string, a: Uint32Array | Float64Array | Float32Array): void {
  const w = new BinWriter(openSync(path, 'w'));
  w.write(bytesOf(a));
  w.close();
}

/** Sorts (hash, doc) pairs into ids.u32 and rejects a passage_id that occurs twice. */
function checkDuplicateIds(dir: string, hashes: Uint32Array, pidOffsets: Float64Array, source: string): void {
  const n = hashes.length;
  const keys = new BigUint64Array(n);
  for (let d = 0; d < n; d++) keys[d] = (BigInt(hashes[d]) << 32n) | BigInt(d);
  keys.sort();
  const pairs = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    pairs[2 * i] = Number(keys[i] >> 32n);
    pairs[2 * i + 1] = Number(keys[i] & 0xffffffffn);
  }
  writeTyped(join(dir, FILES.ids), pairs);
  const pids = new PassageIds(readFileBuffer(join(dir, FILES.pids), false), pidOffsets);
  {
    for (let i = 0; i < n; ) {
      let j = i + 1;
      while (j < n && pairs[2 * j] === pairs[2 * i]) j++;
      if (j - i > 1) {
        const seen = new Map<string, number>();
        for (let m = i; m < j; m++) {
          const d = pairs[2 * m + 1];
          const id = pids.get(d);
          const first = seen.get(id);
          if (first !== undefined) {
            throw new InputError(source, `passage ${d + 1}`, 'passage_id', `"${id}" already used by passage ${first + 1}; passage ids must be unique`);
          }
          seen.set(id, d);
        }
      }
      i = j;
    }
  }
}

/** Groups passages into batches of `size`. */
async function* batchesOf(passages: AsyncIterable<Passage> | Iterable<Passage>, size: number): AsyncGenerator<PassageBatch> {
  let batch: PassageBatch = { ids: [], titles: [], texts: [] };
  for await (const p of passages) {
    batch.ids.push(p.passage_id);
    batch.titles.push(p.title);
    batch.texts.push(p.text);
    if (batch.ids.length === size) {
      yield batch;
      batch = { ids: [], titles: [], texts: [] };
    }
  }
  if (batch.ids.length > 0) yield batch;
}

/**
 * Analyzed batches in corpus order, each with the index of the analyzer thread that made it.
 * With threads > 0, batch i goes to worker i mod threads (each worker sees its batches in
 * order, as its local term ids require) and up to two batches per worker are in flight while
 * this thread reads ahead; otherwise batches are analyzed here.
 */
async function* analyzeInOrder(
  passages: AsyncIterable<Passage> | Iterable<Passage>,
  o: { analyzer?: Partial<AnalyzerConfig>; indexTitle: boolean; threads: number; batchSize: number },
): AsyncGenerator<{ result: AnalyzedBatch; thread: number }> {
  const batches = batchesOf(passages, Math.max(1, o.batchSize));
  if (o.threads <= 0) {
    const local = new BatchAnalyzer(o.analyzer, o.indexTitle);
    for await (const batch of batches) yield { result: local.analyze(batch), thread: 0 };
    return;
  }
  const workerData = { role: 'build', analyzer: o.analyzer ?? {}, indexTitle: o.indexTitle };
  const workers = Array.from({ length: o.threads }, () => new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData }));
  const pending = new Map<number, { resolve: (r: AnalyzedBatch) => void; reject: (e: Error) => void }>();
  let failure: Error | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  for (const w of workers) {
    w.on('message', (msg: { id: number; result?: AnalyzedBatch; error?: string }) => {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new Error(`bm25 build worker failed: ${msg.error}`));
      else p.resolve(msg.result!);
    });
    w.on('error', fail);
    w.on('exit', (code) => {
      if (code !== 0) fail(new Error(`bm25 build worker exited with code ${code}`));
    });
  }
  const inFlight: { thread: number; result: Promise<AnalyzedBatch> }[] = [];
  let next = 0;
  const send = (batch: PassageBatch): void => {
    const id = next++;
    const thread = id % workers.length;
    const result = new Promise<AnalyzedBatch>((resolve, reject) => {
      if (failure) return reject(failure);
      pending.set(id, { resolve, reject });
      workers[thread].postMessage({ id, batch });
    });
    result.catch(() => {}); // awaited in order below; avoid an unhandled rejection meanwhile
    inFlight.push({ thread, result });
  };
  try {
    for await (const batch of batches) {
      send(batch);
      while (inFlight.length >= 2 * workers.length) {
        const head = inFlight.shift()!;
        yield { result: await head.result, thread: head.thread };
      }
    }
    while (inFlight.length > 0) {
      const head = inFlight.shift()!;
      yield { result: await head.result, thread: head.thread };
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
