/**
 * The per-passage work of an index build, done on a batch of passages at a time so that it can
 * run in worker threads: analysis into term ids (from a dictionary local to this analyzer), term
 * frequencies, the passage-store line and the id bytes, all packed in typed arrays that transfer
 * to the building thread without copying.
 *
 * Local term ids are dense and assigned in first-occurrence order; each batch lists the terms it
 * introduced, in that order. The builder maps them to global ids while it consumes batches in
 * corpus order, which gives exactly the ids a single-threaded pass would (see builder.ts).
 */
import { createAnalyzer, type AnalyzerConfig } from '../../text/analyzer.ts';
import { idHash } from './store.ts';

/** Passages of one batch, as parallel arrays (cheaper to post to a worker than objects). */
export interface PassageBatch {
  ids: string[];
  titles: string[];
  texts: string[];
}

/** One analyzed batch. Postings of doc i are [postingStart[i], postingStart[i + 1]). */
export interface AnalyzedBatch {
  docs: number;
  /** Int32 × (docs + 1): offsets into terms/tfs per doc. */
  postingStart: Uint32Array;
  /** Analyzed length (title + text terms, duplicates counted) per doc. */
  lengths: Uint32Array;
  /** Local term id per posting; each doc's distinct terms, in first-occurrence order. */
  terms: Uint32Array;
  /** Term frequency per posting (capped at 65535). */
  tfs: Uint16Array;
  /** Local ids firstNewTerm.. firstNewTerm + newTerms.length - 1, first-occurrence order. */
  firstNewTerm: number;
  newTerms: string[];
  /** store.bin lines (JSON [passage_id, title, text] + "\n"), concatenated; storeEnds[i] ends doc i. */
  store: Uint8Array;
  storeEnds: Uint32Array;
  /** passage ids as UTF-8, concatenated; pidEnds[i] ends doc i. */
  pids: Uint8Array;
  pidEnds: Uint32Array;
  /** idHash(passage_id) per doc. */
  hashes: Uint32Array;
}

/** Growable byte buffer filled with TextEncoder.encodeInto (no intermediate Buffers). */
class Utf8Sink {
  bytes: Uint8Array;
  used = 0;
  private readonly encoder = new TextEncoder();
  constructor(size: number) {
    this.bytes = new Uint8Array(Math.max(size, 1024));
  }
  append(s: string): void {
    let rest = s;
    for (;;) {
      const { read, written } = this.encoder.encodeInto(rest, this.bytes.subarray(this.used));
      this.used += written;
      if (read === rest.length) return;
      rest = rest.slice(read);
      const next = new Uint8Array(Math.max(this.bytes.length * 2, this.used + rest.length * 3));
      next.set(this.bytes.subarray(0, this.used));
      this.bytes = next;
    }
  }
  /** The filled bytes, on their own ArrayBuffer (transferable). */
  take(): Uint8Array {
    return this.bytes.slice(0, this.used);
  }
}

/**
 * Analyzes batches with one term dictionary; use one instance per thread, batches in order.
 * @example
 * const a = new BatchAnalyzer({ lang: 'none' }, true);
 * a.analyze({ ids: ['d1'], titles: [''], texts: ['alpha beta alpha'] }).newTerms // ['alpha', 'beta']
 */
export class BatchAnalyzer {
  private readonly analyzer;
  private readonly termIds = new Map<string, number>();
  // Per local term: the last doc (batch-global counter) it was seen in and its posting slot there.
  private lastDoc = new Int32Array(1 << 16).fill(-1);
  private slot = new Uint32Array(1 << 16);
  private docCounter = 0;

  constructor(
    config: Partial<AnalyzerConfig> | undefined,
    private readonly indexTitle: boolean,
  ) {
    this.analyzer = createAnalyzer(config);
  }

  analyze(batch: PassageBatch): AnalyzedBatch {
    const n = batch.ids.length;
    const postingStart = new Uint32Array(n + 1);
    const lengths = new Uint32Array(n);
    const hashes = new Uint32Array(n);
    const storeEnds = new Uint32Array(n);
    const pidEnds = new Uint32Array(n);
    let textChars = 0;
    for (let i = 0; i < n; i++) textChars += batch.texts[i].length + batch.titles[i].length;
    let terms = new Uint32Array(Math.max(1024, textChars >> 2));
    let tfs = new Uint16Array(terms.length);
    let used = 0;
    const firstNewTerm = this.termIds.size;
    const newTerms: string[] = [];
    const store = new Utf8Sink(textChars + 64 * n);
    const pids = new Utf8Sink(16 * n);

    for (let i = 0; i < n; i++) {
      const id = batch.ids[i];
      const title = batch.titles[i];
      const text = batch.texts[i];
      const words = this.indexTitle && title ? [...this.analyzer.analyze(title), ...this.analyzer.analyze(text)] : this.analyzer.analyze(text);
      const doc = this.docCounter++;
      if (used + words.length > terms.length) {
        const size = Math.max(terms.length * 2, used + words.length);
        const t = new Uint32Array(size);
        t.set(terms.subarray(0, used));
        terms = t;
        const f = new Uint16Array(size);
        f.set(tfs.subarray(0, used));
        tfs = f;
      }
      postingStart[i] = used;
      for (const w of words) {
        let t = this.termIds.get(w);
        if (t === undefined) {
          t = this.termIds.size;
          this.termIds.set(w, t);
          newTerms.push(w);
          if (t >= this.lastDoc.length) this.growTermArrays();
        }
        if (this.lastDoc[t] !== doc) {
          this.lastDoc[t] = doc;
          this.slot[t] = used;
          terms[used] = t;
          tfs[used++] = 1;
        } else if (tfs[this.slot[t]] !== 0xffff) tfs[this.slot[t]]++;
      }
      lengths[i] = words.length;
      hashes[i] = idHash(id);
      store.append(JSON.stringify([id, title, text]) + '\n');
      storeEnds[i] = store.used;
      pids.append(id);
      pidEnds[i] = pids.used;
    }
    postingStart[n] = used;
    return {
      docs: n,
      postingStart,
      lengths,
      terms: terms.slice(0, used),
      tfs: tfs.slice(0, used),
      firstNewTerm,
      newTerms,
      store: store.take(),
      storeEnds,
      pids: pids.take(),
      pidEnds,
      hashes,
    };
  }

  private growTermArrays(): void {
    const lastDoc = new Int32Array(this.lastDoc.length * 2).fill(-1);
    lastDoc.set(this.lastDoc);
    this.lastDoc = lastDoc;
    const slot = new Uint32Array(this.slot.length * 2);
    slot.set(this.slot);
    this.slot = slot;
  }
}

/** The ArrayBuffers of a batch, for postMessage's transfer list. */
export function transferList(b: AnalyzedBatch): ArrayBuffer[] {
  return [b.postingStart, b.lengths, b.terms, b.tfs, b.store, b.storeEnds, b.pids, b.pidEnds, b.hashes].map((a) => a.buffer as ArrayBuffer);
}
