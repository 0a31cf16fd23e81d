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
import { createAnalyzer, WORD_RE, type AnalyzerConfig } from '../../text/analyzer.ts';
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

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const MISSING = -2;
const STOPWORD = -1;

/**
 * Open-addressing hash table from a word, given as a range of a string's code units, to its
 * local term id (or STOPWORD). Words are kept as code units in one arena, so a lookup hashes and
 * compares in place and a string is created only for a word never seen before.
 */
class WordTable {
  private slots = new Int32Array(1 << 16).fill(-1); // word number, -1 empty
  private slotHashes = new Uint32Array(1 << 16);
  private chars = new Uint16Array(1 << 20);
  private charsUsed = 0;
  private starts = new Uint32Array(1 << 15);
  private lengths = new Uint32Array(1 << 15);
  private values = new Int32Array(1 << 15);
  private count = 0;

  find(s: string, start: number, end: number, hash: number): number {
    const mask = this.slots.length - 1;
    const n = end - start;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const w = this.slots[at];
      if (w < 0) return MISSING;
      if (this.slotHashes[at] !== hash || this.lengths[w] !== n) continue;
      const base = this.starts[w];
      let i = 0;
      while (i < n && this.chars[base + i] === s.charCodeAt(start + i)) i++;
      if (i === n) return this.values[w];
    }
  }

  insert(s: string, start: number, end: number, hash: number, value: number): void {
    const n = end - start;
    if (this.count === this.starts.length) {
      this.starts = grown(this.starts, this.count * 2);
      this.lengths = grown(this.lengths, this.count * 2);
      this.values = grown(this.values, this.count * 2);
    }
    if (this.charsUsed + n > this.chars.length) this.chars = grown(this.chars, Math.max(this.chars.length * 2, this.charsUsed + n));
    for (let i = 0; i < n; i++) this.chars[this.charsUsed + i] = s.charCodeAt(start + i);
    const w = this.count++;
    this.starts[w] = this.charsUsed;
    this.lengths[w] = n;
    this.values[w] = value;
    this.charsUsed += n;
    this.place(w, hash);
    // Keep the load factor under 1/2.
    if (this.count * 2 > this.slots.length) this.rehash();
  }

  private place(w: number, hash: number): void {
    const mask = this.slots.length - 1;
    let at = hash & mask;
    while (this.slots[at] >= 0) at = (at + 1) & mask;
    this.slots[at] = w;
    this.slotHashes[at] = hash;
  }

  private rehash(): void {
    const old = this.slots;
    const oldHashes = this.slotHashes;
    this.slots = new Int32Array(old.length * 2).fill(-1);
    this.slotHashes = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i++) if (old[i] >= 0) this.place(old[i], oldHashes[i]);
  }
}

function grown<T extends Uint16Array | Uint32Array | Int32Array>(a: T, size: number): T {
  const next = new (a.constructor as new (n: number) => T)(size);
  next.set(a);
  return next;
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
  private readonly words = new WordTable();
  // State of the doc being scanned (fields, not closures: the scan loop stays monomorphic).
  private doc = 0;
  private docLength = 0;
  private terms = new Uint32Array(0);
  private tfs = new Uint16Array(0);
  private used = 0;
  private newTerms: string[] = [];

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
      // At most one posting per UTF-16 code unit: grow once per doc, not per word.
      const bound = text.length + (this.indexTitle ? title.length : 0);
      if (used + bound > terms.length) {
        const size = Math.max(terms.length * 2, used + bound);
        const t = new Uint32Array(size);
        t.set(terms.subarray(0, used));
        terms = t;
        const f = new Uint16Array(size);
        f.set(tfs.subarray(0, used));
        tfs = f;
      }
      postingStart[i] = used;
      this.doc = this.docCounter++;
      this.docLength = 0;
      this.terms = terms;
      this.tfs = tfs;
      this.used = used;
      this.newTerms = newTerms;
      if (this.indexTitle && title) this.scan(title);
      this.scan(text);
      used = this.used;
      lengths[i] = this.docLength;
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

  /**
   * Adds the terms of one text to the current doc, as analyzer.analyze() would produce them: the
   * word split runs over char codes and each distinct word is analyzed (stopword, stem) and
   * looked up once, through the word table, instead of allocating a string per word.
   */
  private scan(raw: string): void {
    const { text: s, ascii } = this.analyzer.prepare(raw);
    const len = s.length;
    if (ascii) {
      for (let i = 0; i < len; ) {
        let c = s.charCodeAt(i);
        if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) {
          i++;
          continue;
        }
        const start = i;
        let h = FNV_OFFSET;
        do {
          h = Math.imul(h ^ c, FNV_PRIME);
          c = ++i < len ? s.charCodeAt(i) : 0;
        } while ((c >= 97 && c <= 122) || (c >= 48 && c <= 57));
        this.addWord(s, start, i, h >>> 0);
      }
      return;
    }
    const re = WORD_RE;
    re.lastIndex = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      const start = m.index;
      const end = start + m[0].length;
      let h = FNV_OFFSET;
      for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
      this.addWord(s, start, end, h >>> 0);
    }
  }

  private addWord(s: string, start: number, end: number, hash: number): void {
    let t = this.words.find(s, start, end, hash);
    if (t === MISSING) {
      const term = this.analyzer.term(s.slice(start, end));
      if (term === undefined) t = STOPWORD;
      else {
        const known = this.termIds.get(term);
        if (known !== undefined) t = known;
        else {
          t = this.termIds.size;
          this.termIds.set(term, t);
          this.newTerms.push(term);
          if (t >= this.lastDoc.length) this.growTermArrays();
        }
      }
      this.words.insert(s, start, end, hash, t);
    }
    if (t === STOPWORD) return;
    this.docLength++;
    if (this.lastDoc[t] !== this.doc) {
      this.lastDoc[t] = this.doc;
      this.slot[t] = this.used;
      this.terms[this.used] = t;
      this.tfs[this.used++] = 1;
    } else if (this.tfs[this.slot[t]] !== 0xffff) this.tfs[this.slot[t]]++;
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
