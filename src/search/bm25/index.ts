/**
 * A loaded BM25 index: postings in (optionally shared) typed arrays, the term dictionary, and the
 * passage store. Queries are analyzed here with the analyzer recorded in the header.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Passage } from '../../types.ts';
import { createAnalyzer, type Analyzer } from '../../text/analyzer.ts';
import { InputError } from '../../util/errors.ts';
import { FILES, INDEX_FORMAT, INDEX_FORMAT_VERSION, type Bm25Header } from './format.ts';
import { Bm25Scorer, type PostingsArrays, type TermQuery } from './scorer.ts';
import { lookupDoc, PassageIds, PassageStore, readFileBuffer } from './store.ts';
import { checkBytes, checkFileHash, checkFileSizes, checkHeaderSeal, rebuildHint } from './manifest.ts';

/** The buffers a worker thread needs to score and fetch passages without reloading files. */
export interface SharedIndexBuffers {
  dir: string;
  header: Bm25Header;
  offsets: ArrayBuffer | SharedArrayBuffer;
  docs: ArrayBuffer | SharedArrayBuffer;
  impacts: ArrayBuffer | SharedArrayBuffer;
  maxImpacts: ArrayBuffer | SharedArrayBuffer;
  storeOffsets: ArrayBuffer | SharedArrayBuffer;
  pids: ArrayBuffer | SharedArrayBuffer;
  pidOffsets: ArrayBuffer | SharedArrayBuffer;
}

/** One ranked passage. */
export interface Bm25Hit {
  doc: number;
  score: number;
}

/**
 * Reads and checks header.json (format, version, its checksum, a size and sha256 for every file);
 * an InputError names what is wrong.
 */
export function readHeader(dir: string): Bm25Header {
  const path = join(dir, FILES.header);
  if (!existsSync(path)) throw new InputError(dir, undefined, undefined, `not a dprep BM25 index (no ${FILES.header}); build one with "dprep index bm25"`);
  let header: Bm25Header;
  try {
    header = JSON.parse(readFileSync(path, 'utf8')) as Bm25Header;
  } catch (err) {
    throw new InputError(path, undefined, undefined, `not valid JSON (${(err as Error).message}): ${rebuildHint()}`);
  }
  if (header === null || typeof header !== 'object') throw new InputError(path, undefined, undefined, `expected a JSON object: ${rebuildHint()}`);
  if (header.format !== INDEX_FORMAT) throw new InputError(path, undefined, 'format', `expected "${INDEX_FORMAT}", got ${JSON.stringify(header.format)}`);
  if (header.version !== INDEX_FORMAT_VERSION) {
    throw new InputError(path, undefined, 'version', `index format ${header.version} is not readable by this dprep (expects ${INDEX_FORMAT_VERSION}); rebuild the index with "dprep index bm25"`);
  }
  checkHeaderSeal(path, header);
  return header;
}

/**
 * @example
 * const index = Bm25Index.open('squad.bm25');
 * for (const hit of index.search('who won super bowl 50', 10)) console.log(index.passage(hit.doc).passage_id, hit.score);
 * index.close();
 */
export class Bm25Index {
  readonly analyzer: Analyzer;
  readonly arrays: PostingsArrays;
  readonly store: PassageStore;
  readonly pids: PassageIds;
  private termIds?: Map<string, number>;
  private ids?: Uint32Array;
  private scorer?: Bm25Scorer;

  private constructor(
    readonly dir: string,
    readonly header: Bm25Header,
    readonly buffers: SharedIndexBuffers,
  ) {
    this.analyzer = createAnalyzer(header.analyzer);
    this.arrays = postingsFromBuffers(buffers);
    this.store = new PassageStore(join(dir, FILES.store), new Float64Array(buffers.storeOffsets));
    this.pids = new PassageIds(buffers.pids, new Float64Array(buffers.pidOffsets));
  }

  /**
   * Loads an index directory; `shared` puts the postings in SharedArrayBuffers for worker threads.
   * Every file's size is checked against header.json; with `verify` (the default) its sha256 too:
   * the tables read into memory as they are loaded, the passage store, term list and id table
   * streamed here. `verify: false` leaves the hashes out (sizes only), for quick lookups.
   */
  static open(dir: string, opts: { shared?: boolean; verify?: boolean } = {}): Bm25Index {
    const header = readHeader(dir);
    const shared = opts.shared ?? false;
    const verify = opts.verify ?? true;
    checkFileSizes(dir, header);
    const load = (name: string) => {
      const buf = readFileBuffer(join(dir, name), shared);
      if (verify) checkBytes(dir, name, header, buf);
      return buf;
    };
    const buffers: SharedIndexBuffers = {
      dir,
      header,
      offsets: load(FILES.offsets),
      docs: load(FILES.docs),
      impacts: load(FILES.impacts),
      maxImpacts: load(FILES.maxImpacts),
      storeOffsets: load(FILES.storeOffsets),
      pids: load(FILES.pids),
      pidOffsets: load(FILES.pidOffsets),
    };
    if (buffers.docs.byteLength !== header.postings * 4 || buffers.offsets.byteLength !== (header.terms + 1) * 8) {
      throw new InputError(dir, undefined, undefined, `index files do not match header.json (truncated or mixed builds): ${rebuildHint(header)}`);
    }
    if (verify) for (const name of [FILES.store, FILES.terms, FILES.ids, FILES.doclen]) checkFileHash(dir, name, header);
    return new Bm25Index(dir, header, buffers);
  }

  get docCount(): number {
    return this.header.docs;
  }

  /** Term id of an analyzed term, or undefined when the corpus never has it. */
  termId(term: string): number | undefined {
    if (!this.termIds) {
      // Built on first use: only the thread that analyzes queries needs the dictionary.
      const map = new Map<string, number>();
      const terms = readFileSync(join(this.dir, FILES.terms), 'utf8').split('\n');
      for (let i = 0; i < this.header.terms; i++) map.set(terms[i], i);
      this.termIds = map;
    }
    return this.termIds.get(term);
  }

  /** Analyzes a query into known term ids weighted by their count (first-occurrence order). */
  toTermQuery(text: string): TermQuery {
    const weights = new Map<number, number>();
    for (const term of this.analyzer.analyze(text)) {
      const id = this.termId(term);
      if (id !== undefined) weights.set(id, (weights.get(id) ?? 0) + 1);
    }
    return { ids: Uint32Array.from(weights.keys()), weights: Float64Array.from(weights.values()) };
  }

  /** Exact top-k by BM25, best first, ties by corpus order. */
  search(query: string | TermQuery, k: number): Bm25Hit[] {
    this.scorer ??= new Bm25Scorer(this.arrays);
    const q = typeof query === 'string' ? this.toTermQuery(query) : query;
    const top = this.scorer.topK(q, k);
    return Array.from(top.docs, (doc, i) => ({ doc, score: top.scores[i] }));
  }

  passage(doc: number): Passage {
    return this.store.get(doc);
  }

  /** Doc number of a passage id, or undefined when the corpus has no such passage. */
  docOf(passageId: string): number | undefined {
    this.ids ??= new Uint32Array(readFileBuffer(join(this.dir, FILES.ids), false));
    return lookupDoc(this.ids, this.pids, passageId);
  }

  close(): void {
    this.store.close();
  }
}

/** Typed views over the (shared) buffers; used by the index and by worker threads. */
export function postingsFromBuffers(b: SharedIndexBuffers): PostingsArrays {
  return {
    offsets: new Float64Array(b.offsets),
    docs: new Uint32Array(b.docs),
    impacts: new Float32Array(b.impacts),
    maxImpacts: new Float32Array(b.maxImpacts),
    docCount: b.header.docs,
  };
}
